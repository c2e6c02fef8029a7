// Workflow `soql-query`, in JavaScript: runs a SOQL query over REST and
// answers {"totalSize": n, "records": [...]} with every page merged
// (following nextRecordsUrl) and the `attributes` of each record removed,
// exactly like the Rust plugins/soql-query.
//
// The query comes from the JSON body {"q": "SELECT ..."} or, without a body,
// from the query string ?q=SELECT+...
//
// Built by scripts/build-js-plugins (componentize-js) into
// target/plugins-js/soql_query_js.wasm against the WIT world in ../../../wit.

import { send } from "twoway:gateway/upstream@0.3.3";
import { config, log } from "twoway:gateway/context@0.3.3";

// Module state lives for one call only: every call runs in a fresh instance
// made from the snapshot taken at build time, where this is 0. The answer's
// `x-calls-in-instance` header shows it (always 1).
let callsInInstance = 0;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A workflow-error for the gateway; the host writes it as a problem. */
class WorkflowError extends Error {
  constructor(tag, val) {
    super(typeof val === "string" ? val : `${tag}: ${JSON.stringify(val)}`);
    // componentize-js turns a thrown error's `payload` into the `err` case.
    this.payload = { tag, val };
  }
}

const badRequest = (text) => new WorkflowError("bad-request", text);
/** A fault the workflow does not handle: passed on as `upstream-fault` (502). */
const upstreamFault = (code, message) =>
  new WorkflowError("upstream", { tag: "upstream-fault", val: { code, message } });

/** Sends one REST GET and answers the parsed JSON; errors as workflow-errors. */
function restGet(path) {
  let response;
  try {
    response = send({
      api: "rest",
      method: "GET",
      path,
      headers: [{ name: "accept", value: "application/json" }],
      body: new Uint8Array(0),
    });
  } catch (e) {
    // An upstream-error (timeout, no session, ...): pass it on with its own code.
    if (e && e.payload) throw new WorkflowError("upstream", e.payload);
    throw e;
  }
  // The host has judged the answer: a fault as Salesforce named it, or a
  // body in no format the API speaks.
  const verdict = response.verdict;
  if (verdict.tag === "fault") {
    throw upstreamFault(verdict.val.code, verdict.val.message);
  }
  const text = decoder.decode(response.body);
  if (verdict.tag === "unexpected" || response.status >= 300) {
    throw upstreamFault(`HTTP_${response.status}`, verdict.val ?? text.slice(0, 200));
  }
  try {
    return text.trim() === "" ? null : JSON.parse(text);
  } catch (e) {
    throw upstreamFault("INVALID_JSON", `the API answered with JSON that cannot be read: ${e.message}`);
  }
}

/** The SOQL query from the JSON body or the query string. */
function queryOf(request) {
  const bodyText = decoder.decode(request.body);
  if (bodyText.trim() !== "") {
    let parsed;
    try {
      parsed = JSON.parse(bodyText);
    } catch (e) {
      throw badRequest(`the body is not valid JSON (${e.message}); send {"q": "SELECT ..."}`);
    }
    return parsed && typeof parsed.q === "string" ? parsed.q : null;
  }
  return new URLSearchParams(request.query).get("q");
}

/** A record without its `attributes`, nested records included. */
function withoutAttributes(value) {
  if (Array.isArray(value)) return value.map(withoutAttributes);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      if (k !== "attributes") out[k] = withoutAttributes(v);
    }
    return out;
  }
  return value;
}

/** `nextRecordsUrl` (/services/data/v62.0/query/01g...) relative to the REST base. */
function relativePath(url) {
  const m = /^\/services\/data\/v[0-9.]+\/(.*)$/.exec(url);
  return m ? m[1] : url.replace(/^\/+/, "");
}

/**
 * The world's export: one inbound request in, one response out. A thrown
 * WorkflowError becomes the `err` case; any other exception (a bug) becomes
 * `internal`, a 500 `workflow_error` naming it, instead of a trap.
 */
export function handle(request) {
  try {
    return run(request);
  } catch (e) {
    if (e && e.payload) throw e;
    throw new WorkflowError("internal", `soql-query (js) failed: ${e && e.message ? e.message : String(e)}`);
  }
}

function run(request) {
  callsInInstance += 1;
  const q = queryOf(request);
  if (!q || q.trim() === "") {
    throw badRequest('send a SOQL query as {"q": "SELECT ..."} or ?q=SELECT+...');
  }
  let page = restGet(`query?q=${encodeURIComponent(q)}`);
  const total = page.totalSize;
  const records = [];
  for (;;) {
    for (const record of page.records ?? []) records.push(withoutAttributes(record));
    if (page.done === true || typeof page.nextRecordsUrl !== "string") break;
    page = restGet(relativePath(page.nextRecordsUrl));
  }
  if (config("log_count") === "true") {
    log("info", `soql-query (js): ${records.length} records`);
  }
  return {
    status: 200,
    headers: [
      { name: "content-type", value: "application/json" },
      { name: "x-calls-in-instance", value: String(callsInInstance) },
    ],
    body: encoder.encode(JSON.stringify({ totalSize: total, records })),
  };
}
