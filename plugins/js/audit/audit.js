// twoway-world: policy
//
// Front-door policy `audit`, in JavaScript: writes one audit line per
// request an existing client sends through the front door (API, method,
// path, and for SOAP the operation) and one per answer (status), to the
// gateway's log with the tenant's name. Passes everything unchanged.
//
// Config: `prefix` (optional) starts every line (default "audit").
//
// Built by scripts/build-js-plugins (componentize-js, world `policy`) into
// target/plugins-js/audit.wasm against the WIT world in ../../../wit.

import { config, log } from "twoway:gateway/context@0.3.0";

const decoder = new TextDecoder();

/** The SOAP operation: the first element inside the envelope's Body. */
function soapOperation(body) {
  const text = decoder.decode(body.subarray(0, 64 * 1024));
  const match = /<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([\w-]+)/.exec(text);
  return match ? match[1] : null;
}

function prefix() {
  return config("prefix") ?? "audit";
}

export function onRequest(request) {
  const operation = request.api.startsWith("soap") ? soapOperation(request.body) : null;
  const what = operation ? ` ${operation}` : "";
  log("info", `${prefix()}: ${request.api} ${request.method} ${request.path}${what}`);
  return { tag: "pass" };
}

export function onResponse(request, response) {
  log("info", `${prefix()}: ${request.api} ${request.method} ${request.path} -> ${response.status}`);
  return { tag: "pass" };
}
