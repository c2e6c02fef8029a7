// jsforce through the gateway, beyond CRUD: identity() (the identity URL the
// SOAP login implies, at the gateway), query paging (queryMore on
// nextRecordsUrl, and autoFetch), and, when SF_TOKEN_WAIT_MS is set, its own
// re-login after the gateway token expired: the call that got
// INVALID_SESSION_ID is sent again with the new token and succeeds.
'use strict';
const { connect, main } = require('./lib/peer');

const SOQL = 'SELECT Name FROM Account ORDER BY Name';

main(async () => {
  const { conn } = await connect();
  const refreshes = [];
  conn.on('refresh', (token) => refreshes.push(token));
  const identity = await conn.identity();
  const first = await conn.query(SOQL);
  const more = await conn.queryMore(first.nextRecordsUrl);
  const all = await conn.query(SOQL, { autoFetch: true, maxFetch: 100 });
  const token = conn.accessToken;
  const wait = Number(process.env.SF_TOKEN_WAIT_MS || 0);
  let expired = null;
  if (wait > 0) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    const again = await conn.query(SOQL, { autoFetch: true, maxFetch: 100 });
    expired = {
      names: again.records.map((r) => r.Name),
      refreshes: refreshes.length,
      newToken: conn.accessToken !== token,
    };
  }
  return {
    identity,
    pages: {
      first: { size: first.records.length, done: first.done, next: first.nextRecordsUrl, total: first.totalSize },
      more: { names: more.records.map((r) => r.Name), done: more.done },
      all: all.records.map((r) => r.Name),
    },
    tokens: [token, ...refreshes],
    expired,
  };
});
