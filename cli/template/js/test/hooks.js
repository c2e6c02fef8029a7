// Module resolution hooks for node: the gateway's imports
// (twoway:gateway/...) resolve to the fake host.
export async function resolve(specifier, context, next) {
  if (specifier.startsWith("twoway:gateway/")) {
    return { url: new URL("./fake-host.js", import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
