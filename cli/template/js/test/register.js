// `node --import ./test/register.js`: installs test/hooks.js.
import { register } from "node:module";

register("./hooks.js", import.meta.url);
