// jsforce against the simulator: SOAP login, query, create, retrieve, update,
// delete, and what a deleted record's retrieve raises.
'use strict';
const { connect, main, attempt } = require('./lib/peer');

main(async () => {
  const { conn, userInfo } = await connect();
  const accounts = await conn.query('SELECT Id, Name FROM Account');
  const created = await conn.sobject('Account').create({ Name: 'jsforce Test Account', Industry: 'Testing' });
  const read = await conn.sobject('Account').retrieve(created.id);
  const updated = await conn.sobject('Account').update({ Id: created.id, Industry: 'Updated' });
  const reread = await conn.sobject('Account').retrieve(created.id);
  const deleted = await conn.sobject('Account').destroy(created.id);
  const gone = await attempt(conn.sobject('Account').retrieve(created.id));
  return {
    version: conn.version,
    instanceUrl: conn.instanceUrl,
    userInfo,
    accounts: { totalSize: accounts.totalSize, done: accounts.done, names: accounts.records.map((r) => r.Name) },
    created,
    read: { Id: read.Id, Name: read.Name, Industry: read.Industry, type: read.attributes.type },
    updated,
    reread: { Industry: reread.Industry },
    deleted,
    gone: gone.error,
  };
});
