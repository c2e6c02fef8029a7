// jsforce's describe, identity, limits, search and queries with parent
// paths, IN, ORDER BY and queryAll against the simulator.
'use strict';
const { connect, main, attempt } = require('./lib/peer');

main(async () => {
  const { conn } = await connect();
  const global = await conn.describeGlobal();
  const account = await conn.sobject('Account').describe();
  const identity = await conn.identity();
  const limits = await conn.limits();
  const search = await conn.search('FIND {Coyote} IN ALL FIELDS RETURNING Account(Id, Name), Contact(Id, LastName)');
  const contacts = await conn.query(
    "SELECT LastName, Account.Name, Owner.Name FROM Contact WHERE LastName IN ('Coyote', 'Runner') ORDER BY LastName DESC",
  );
  const temp = await conn.sobject('Contact').create({ LastName: 'Ephemeral' });
  await conn.sobject('Contact').destroy(temp.id);
  const all = await conn.query("SELECT Id, IsDeleted FROM Contact WHERE LastName = 'Ephemeral'", { scanAll: true });
  const live = await conn.query("SELECT Id FROM Contact WHERE LastName = 'Ephemeral'");
  const malformed = await attempt(conn.query('SELECT Id FROM Account WHERE'));
  return {
    global: { names: global.sobjects.map((o) => o.name), maxBatchSize: global.maxBatchSize },
    account: {
      name: account.name,
      keyPrefix: account.keyPrefix,
      fields: account.fields.map((f) => ({ name: f.name, type: f.type, externalId: f.externalId })),
      children: account.childRelationships.map((c) => c.relationshipName),
    },
    identity: { user_id: identity.user_id, organization_id: identity.organization_id, username: identity.username, display_name: identity.display_name },
    dailyApiRequests: limits.DailyApiRequests,
    search: search.searchRecords.map((r) => ({ type: r.attributes.type, Name: r.Name, LastName: r.LastName })),
    contacts: contacts.records.map((r) => ({ LastName: r.LastName, Account: r.Account && r.Account.Name, Owner: r.Owner && r.Owner.Name })),
    queryAll: all.records.map((r) => ({ Id: r.Id, IsDeleted: r.IsDeleted })),
    deletedId: temp.id,
    live: live.totalSize,
    malformed: malformed.error,
  };
});
