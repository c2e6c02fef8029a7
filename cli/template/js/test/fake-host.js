// A fake of the gateway for tests in node: the imports of
// twoway:gateway/upstream and twoway:gateway/context (test/hooks.js maps
// them here). `host.answer(...)` queues what `send` answers next; `host.sent`
// lists what the workflow sent; `host.logs` what it logged.
const encoder = new TextEncoder();

export const host = {
  sent: [],
  logs: [],
  answers: [],
  config: {},
  reset() {
    this.sent = [];
    this.logs = [];
    this.answers = [];
    this.config = {};
  },
  /** Queues an answer: {status, body (text), headers?, fault?: {code, message}}. */
  answer({ status = 200, body = "", headers = [], fault = null }) {
    const verdict = fault ? { tag: "fault", val: fault } : { tag: "success" };
    this.answers.push({ status, headers, body: encoder.encode(body), verdict });
  },
};

export function send(request) {
  host.sent.push(request);
  const answer = host.answers.shift();
  if (!answer) throw new Error(`the fake host has no answer queued for ${request.api} ${request.method} ${request.path}`);
  return answer;
}

export function log(level, message) {
  host.logs.push({ level, message });
}

export function config(key) {
  return host.config[key];
}
