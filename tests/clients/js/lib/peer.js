// What every jsforce test script shares: a connection from the environment
// tests/src/clients.rs sets (SF_LOGIN_URL, SF_USERNAME, SF_PASSWORD,
// SF_INSTANCE_URL, SF_CLIENT_CERT, SF_VERSION), and printing the result as JSON.
'use strict';
const fs = require('fs');
const jsforce = require('jsforce');
const { Agent } = require('undici');
const { setDispatcher } = require('jsforce/lib/request');

/** Logs in with jsforce's own SOAP login; API calls then go to SF_INSTANCE_URL when set. */
async function connect() {
  const env = process.env;
  if (env.SF_CLIENT_CERT) {
    // jsforce sends every request through one undici dispatcher: present the
    // client certificate there (the login port simply does not ask for it).
    const pem = fs.readFileSync(env.SF_CLIENT_CERT);
    setDispatcher(new Agent({ connect: { allowH2: false, cert: pem, key: pem } }));
  }
  const options = { loginUrl: env.SF_LOGIN_URL };
  if (env.SF_VERSION) options.version = env.SF_VERSION;
  const conn = new jsforce.Connection(options);
  const userInfo = await conn.login(env.SF_USERNAME, env.SF_PASSWORD);
  if (env.SF_INSTANCE_URL) {
    conn.instanceUrl = env.SF_INSTANCE_URL;
  }
  return { conn, userInfo };
}

/** An error as the tests compare it: what jsforce made of the server's answer. */
function describe(err) {
  return { name: err.name, errorCode: err.errorCode, message: err.message };
}

/** Runs `body` and prints its result as JSON; an unexpected error exits 1 with its stack. */
function main(body) {
  body().then(
    (out) => process.stdout.write(JSON.stringify(out)),
    (err) => {
      process.stderr.write(`${err && err.stack ? err.stack : err}\n${JSON.stringify(describe(err || {}))}\n`);
      process.exit(1);
    },
  );
}

/** Awaits `promise`; a rejection becomes { error } instead of a throw. */
async function attempt(promise) {
  try {
    return { ok: await promise };
  } catch (err) {
    return { error: describe(err) };
  }
}

module.exports = { connect, main, attempt, describe };
