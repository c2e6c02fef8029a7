// jsforce's Bulk API 1.0 (CSV jobs via conn.bulk.load) and Bulk API 2.0
// (loadAndWaitForResults, query) against the simulator.
'use strict';
const { connect, main } = require('./lib/peer');

main(async () => {
  const { conn } = await connect();
  conn.bulk.pollInterval = 50;
  conn.bulk2.pollInterval = 50;
  const v1 = await conn.bulk.load('Account', 'insert', [
    { Name: 'Bulk JS One', Industry: 'Retail' },
    { Name: 'Bulk JS Two', Industry: 'Retail' },
    { Industry: 'Retail' },
  ]);
  const v2 = await conn.bulk2.loadAndWaitForResults({
    object: 'Contact',
    operation: 'insert',
    input: 'LastName,Email\nPorky,porky@pig.example\n"Pig, Petunia",petunia@pig.example\n,nobody@pig.example\n',
  });
  const stream = await conn.bulk2.query("SELECT LastName, Email FROM Contact WHERE Email LIKE '%@pig.example' ORDER BY LastName");
  const records = await new Promise((resolve, reject) => {
    const out = [];
    stream.on('record', (r) => out.push(r));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
  return {
    v1: v1.map((r) => ({ success: r.success, hasId: !!r.id, errors: r.errors })),
    v2: {
      successful: v2.successfulResults.map((r) => ({ created: r.sf__Created, LastName: r.LastName, hasId: !!r.sf__Id })),
      failed: v2.failedResults.map((r) => ({ error: r.sf__Error, Email: r.Email })),
      unprocessed: v2.unprocessedRecords.length,
    },
    query: records.map((r) => ({ LastName: r.LastName, Email: r.Email })),
  };
});
