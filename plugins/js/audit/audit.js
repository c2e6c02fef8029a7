// twoway-world: policy
//
// Front-door policy `audit`, in JavaScript: writes one audit line per
// request an existing client sends through the front door (API, method,
// path, and the operation the host read: the SOAP operation or the REST
// resource) and one per answer (status), to the gateway's log with the
// tenant's name. Passes everything unchanged. Both hooks of a request run
// in one instance, so the answer's line repeats what the request's found.
//
// Config: `prefix` (optional) starts every line (default "audit").
//
// Built by scripts/build-js-plugins (componentize-js, world `policy`) into
// target/plugins-js/audit.wasm against the WIT world in ../../../wit.

import { config, log } from "twoway:gateway/context@0.3.3";
import { operation } from "twoway:gateway/front-door@0.3.3";

// What the request hook found; the answer hook of the same request runs in
// this instance (a fresh one per request: nothing here crosses requests).
let line = null;

export function onRequest(request) {
  const what = operation();
  const prefix = config("prefix") ?? "audit";
  line = `${prefix}: ${request.api} ${request.method} ${request.path}${what ? ` ${what}` : ""}`;
  log("info", line);
  return { tag: "pass" };
}

export function onResponse(request, response) {
  log("info", `${line} -> ${response.status}`);
  return { tag: "pass" };
}
