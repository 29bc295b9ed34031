'use strict';
// Memory across the boundary: 100,000 intents created and read, and
// 100,000 reads of a few, leave the process's resident set settled. A leaked
// snapshot, list, response or handle grows it by tens of MB over 50,000
// calls; the allowance is a few MB (V8's heap moves a little by itself).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const v8 = require('node:v8');
const vm = require('node:vm');
const { Client, DictStorage } = require('..');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const SLACK_KB = Number(process.env.CONSTRA_MEMORY_SLACK_KB || 12288);

function rssKb() {
  gc(); gc();
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'latin1'));
  return Number(m[1]);
}

test('create and read 100,000 intents (10 handles x 10,000): memory settles', () => {
  const marks = {};
  for (let round = 1; round <= 10; round++) {
    const c = new Client();
    for (let i = 0; i < 10000; i++) {
      const made = c.create({ amount: 100 + (i % 1000), phoneNumber: '0712345678', reference: `order_${i}` },
        { idempotencyKey: `r${round}-${i}` });
      assert.equal(c.get(made.id).id, made.id);
    }
    c.close();
    marks[round] = rssKb();
  }
  const growth = marks[10] - marks[5];
  console.log(`# RSS after 50k intents ${marks[5]} kB, after 100k ${marks[10]} kB, growth ${growth} kB`);
  assert.ok(growth < SLACK_KB, `grew ${growth} kB`);
});

test('100,000 reads of 10 intents: memory settles', () => {
  const c = new Client();
  const ids = [];
  for (let i = 0; i < 10; i++) ids.push(c.create({ amount: 50, phoneNumber: '0712345678' }, { idempotencyKey: `few${i}` }).id);
  c.simulate(ids[0], 1032);
  const marks = {};
  for (let i = 1; i <= 100000; i++) {
    c.get(ids[i % 10]);
    if (i % 4 === 0) c.events(ids[i % 10]);
    if (i % 50 === 0) c.list({ limit: 10 });
    if (i % 10000 === 0) marks[i] = rssKb();
  }
  c.close();
  const growth = marks[100000] - marks[50000];
  console.log(`# RSS after 50k reads ${marks[50000]} kB, after 100k ${marks[100000]} kB, growth ${growth} kB`);
  assert.ok(growth < SLACK_KB, `grew ${growth} kB`);
});

test('a JS storage, 6 handles x 5,000 intents, cleared between: memory settles', () => {
  // A handle per round: the simulator rail keeps every push it made
  // (~400 bytes) until its handle closes, which is not the binding's to
  // free; the JS storage object and its adapter live across rounds.
  const store = new DictStorage();
  const marks = {};
  for (let round = 1; round <= 6; round++) {
    const c = new Client({ storage: store });
    for (let i = 0; i < 5000; i++) {
      const made = c.create({ amount: 100, phoneNumber: '0712345678' }, { idempotencyKey: `d${round}-${i}` });
      c.get(made.id);
    }
    c.close();
    store.clear();
    marks[round] = rssKb();
  }
  const growth = marks[6] - marks[3];
  console.log(`# RSS (JS storage) after 15k ${marks[3]} kB, after 30k ${marks[6]} kB, growth ${growth} kB`);
  assert.ok(growth < SLACK_KB, `grew ${growth} kB`);
});

test('handles opened and closed 2,000 times with JS storages: callbacks released', () => {
  // koffi has 8192 callback slots: without unregistering on close this
  // would run out after ~800 clients.
  for (let i = 0; i < 2000; i++) {
    const c = new Client({ storage: new DictStorage() });
    if (i % 100 === 0) c.create({ amount: 10, phoneNumber: '0712345678' }, { idempotencyKey: 'x' });
    c.close();
  }
});

test('a forgotten client is closed by the finalizer', async () => {
  let closed = 0;
  class Store extends DictStorage { close() { closed++; } }
  (() => { const c = new Client({ storage: new Store() }); c.create({ amount: 10, phoneNumber: '0712345678' }, { idempotencyKey: 'f' }); })();
  for (let i = 0; i < 20 && closed === 0; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(closed, 1);
});

test('a remote client over a JS transport, 6 rounds x 3,000 intents: memory settles', () => {
  // Open, use and close a remote client per round: the remote handle, the
  // copied transport, the adapter's registered callbacks and every parsed
  // answer must go at close().
  const { RouterTransport } = require('..');
  const secretKey = 'cs_test_bindings_0123456789';
  const marks = {};
  for (let round = 1; round <= 6; round++) {
    const server = new Client({ secretKey });
    const remote = Client.remote({ baseUrl: 'http://constra.test/v1', secretKey, transport: new RouterTransport(server) });
    for (let i = 0; i < 3000; i++) {
      // The blocking forms: this measures the handle and its transport, not the worker.
      const made = remote.sync.create({ amount: 100, phoneNumber: '0712345678' }, { idempotencyKey: `rm${round}-${i}` });
      remote.sync.get(made.id);
    }
    remote.close();
    server.close();
    marks[round] = rssKb();
  }
  const growth = marks[6] - marks[3];
  console.log(`# RSS (remote) after 9k ${marks[3]} kB, after 18k ${marks[6]} kB, growth ${growth} kB`);
  assert.ok(growth < SLACK_KB, `grew ${growth} kB`);
});
