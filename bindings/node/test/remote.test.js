'use strict';
// The remote backend (include/constra/client.h) from Node: Client.remote()
// and Client.fromEnv() open a handle whose calls go over HTTP; on it every
// method returns a Promise (a worker thread makes the call). The seed
// flow gives the same results as on a local Client, both through a JS
// transport looping into a local Client's REST router and through libcurl
// to a real `constra serve`; the server's errors arrive as ConstraError
// with its code, httpStatus and param; bad configuration names the fault.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { Client, RouterTransport, TransportFailure, ConstraError } = require('..');
const { SEED, SEED_KEY, SECRET, TIMELINE, createSeed } = require('./helpers');

const BASE = 'http://constra.test/v1';
const WRONG_KEY = 'cs_test_not_the_right_key_42';
const UNKNOWN_ID = 'pi_01m84728vssdr2cpnq71nsww6j';
const ENV_VARS = ['CONSTRA_API_BASE_URL', 'CONSTRA_SECRET_KEY', 'CONSTRA_ENVIRONMENT',
  'CONSTRA_DEFAULT_PROVIDER', 'CONSTRA_WEBHOOK_SECRET'];

// The engine issue's seed flow; returns what must match across backends.
// Every call is awaited: a local client answers values, a remote one
// Promises, and `await` takes both.
async function seedFlow(client) {
  const first = await createSeed(client);
  const again = await createSeed(client);
  const id = first.id;
  const recovery = await client.simulate(id, 1032, 'Request cancelled by user.');
  const retried = await client.retry(id);
  const done = await client.simulate(id, 0);
  const events = await client.events(id);
  return {
    statuses: [first.status, recovery.status, retried.status, done.status],
    replayed: [first.replayed, again.replayed, JSON.stringify(again) === JSON.stringify(first)],
    agentNote: recovery.recovery.agent_note,
    recommendedAction: recovery.recovery.recommended_action,
    attempts: [recovery.recovery.attempts_used, recovery.recovery.attempts_left],
    events: events.data.map((e) => e.type),
    final: { amount: done.amount, currency: done.currency, reference: done.reference, status: done.status },
    listed: (await client.list({ limit: 1 })).data.map((i) => i.id).join() === id,
    got: JSON.stringify(await client.get(id)) === JSON.stringify(done),
  };
}

async function localReference() {
  const local = new Client({ secretKey: SECRET });
  try { return await seedFlow(local); } finally { local.close(); }
}

const is = (code, httpStatus, param) => (e) => {
  assert.ok(e instanceof ConstraError, String(e));
  assert.equal(e.code, code, e.message);
  assert.equal(e.httpStatus, httpStatus);
  if (param !== undefined) assert.equal(e.param, param);
  return true;
};

// A router transport that records its close (the C destroy).
class Counting extends RouterTransport {
  constructor(client) { super(client); this.closed = 0; }
  close() { this.closed++; }
}

async function withServer(fn) {
  const server = new Client({ secretKey: SECRET });
  const transport = new Counting(server);
  try { return await fn(server, transport); } finally { server.close(); }
}

describe('remote over a JS transport into a local router', () => {
  it('runs the seed flow as the local client does', () => withServer(async (server, transport) => {
    const expected = await localReference();
    const remote = Client.remote({ baseUrl: BASE, secretKey: SECRET, transport });
    assert.equal(remote.isRemote, true);
    assert.equal(server.isRemote, false);
    const got = await seedFlow(remote);
    remote.close();
    assert.deepEqual(got, expected);
    assert.deepEqual(got.statuses, ['pending_user_action', 'requires_recovery', 'pending_user_action', 'succeeded']);
    assert.deepEqual(got.replayed, [false, true, true]);
    assert.ok(got.agentNote);
    assert.deepEqual(got.events, TIMELINE);
    assert.equal(transport.requests, 8); // one request a call: nothing repeated
  }));

  it("hands back the server's JSON", () => withServer(async (server, transport) => {
    const remote = Client.remote({ baseUrl: BASE, secretKey: SECRET, transport });
    const pi = await createSeed(remote);
    assert.deepEqual(pi, server.get(pi.id));
    assert.deepEqual(await remote.events(pi.id), server.events(pi.id));
    assert.deepEqual(remote.sync.events(pi.id), server.events(pi.id)); // the blocking form, the same JSON
    assert.equal(createSeed(server).replayed, true);
    remote.close();
  }));

  it("maps the server's errors", () => withServer(async (server, transport) => {
    const bad = Client.remote({ baseUrl: BASE, secretKey: WRONG_KEY, transport });
    await assert.rejects(bad.list(), (e) => is('invalid_api_key', 401)(e) && !e.message.includes(WRONG_KEY));
    assert.throws(() => bad.sync.list(), (e) => is('invalid_api_key', 401)(e) && !e.message.includes(WRONG_KEY));
    bad.close();
    const remote = Client.remote({ baseUrl: BASE, secretKey: SECRET, transport });
    await assert.rejects(remote.get(UNKNOWN_ID), is('resource_missing', 404));
    await assert.rejects(remote.retry(UNKNOWN_ID), is('resource_missing', 404));
    await assert.rejects(createSeed(remote, { amount: -5 }), (e) => e.httpStatus === 400 && e.param === 'amount');
    await assert.rejects(createSeed(remote, { amount: 10 ** 12 }), (e) => e.httpStatus === 400 && e.param === 'amount');
    await assert.rejects(createSeed(remote, { customer: { name: 'A', phone_number: '12' } }, 'order_bad_phone'),
      (e) => e.httpStatus === 400 && e.param === 'phone_number');
    const pi = await createSeed(remote);
    await assert.rejects(createSeed(remote, { amount: 99 }), is('idempotency_key_reused', 409));
    await assert.rejects(remote.retry(pi.id), (e) => e.httpStatus === 409);
    await remote.cancel(pi.id);
    remote.close();
    assert.equal(server.list().data.length, 1); // the refused creates left nothing
  }));

  it('close() frees the handle and the transport, once', () => withServer(async (server, transport) => {
    const remote = Client.remote({ baseUrl: BASE, secretKey: SECRET, transport });
    await remote.list();
    remote.sync.list();
    assert.equal(transport.closed, 0);
    remote.close();
    assert.equal(transport.closed, 1);
    remote.close();
    assert.equal(transport.closed, 1);
    await assert.rejects(remote.list(), is('client_closed', 500));
    assert.throws(() => remote.sync.list(), is('client_closed', 500));
  }));

  it('a failed open leaves the transport to the caller', () => withServer(async (server, transport) => {
    for (const baseUrl of ['ftp://constra.test/v1', 'http://constra.test/v1?x=1']) {
      assert.throws(() => Client.remote({ baseUrl, secretKey: SECRET, transport }), (e) => e.param === 'config.base_url');
    }
    assert.throws(() => Client.remote({ baseUrl: BASE, secretKey: 'short', transport }), (e) => e.param === 'config.secret_key');
    assert.throws(() => Client.remote({ baseUrl: BASE, secretKey: SECRET, transport, maxTries: 11 }), (e) => e.param === 'config.max_tries');
    assert.equal(transport.closed, 0);
    assert.equal(transport.requests, 0);
  }));

  it('refuses wrong types and unknown options', () => {
    for (const opts of [undefined, null, 'x', {}, { baseUrl: BASE }, { baseUrl: 12, secretKey: SECRET },
      { baseUrl: BASE, secretKey: SECRET, transport: {} }, { baseUrl: BASE, secretKey: SECRET, maxTries: '3' },
      { baseUrl: BASE, secretKey: SECRET, mode: 1 }, { baseUrl: BASE, secretKey: SECRET, retries: 3 }]) {
      assert.throws(() => Client.remote(opts), ConstraError, JSON.stringify(opts));
    }
  });

  it("a JS transport's exception is the error's cause", async () => {
    const broken = { send() { throw new Error('network is unreachable'); } };
    const remote = Client.remote({ baseUrl: BASE, secretKey: SECRET, transport: broken, maxTries: 1 });
    const same = (e) => e instanceof ConstraError && e.status === -15 && e.cause.message === 'network is unreachable';
    await assert.rejects(createSeed(remote), same);
    assert.throws(() => remote.sync.create(SEED, { idempotencyKey: SEED_KEY }), same);
    remote.close();
  });

  it('a request never sent is repeated with the same idempotency key', () => withServer(async (server) => {
    const seen = [];
    class FlakyOnce extends RouterTransport {
      send(req) {
        seen.push(Object.fromEntries(req.headers)['Idempotency-Key']);
        if (seen.length === 1) throw new TransportFailure('connect', 'connection refused');
        return super.send(req);
      }
    }
    const remote = Client.remote({ baseUrl: BASE, secretKey: SECRET, transport: new FlakyOnce(server), backoffBaseMs: 1, backoffMaxMs: 2 });
    const pi = await createSeed(remote);
    remote.close();
    assert.deepEqual(seen, [SEED_KEY, SEED_KEY]);
    assert.deepEqual(server.list().data.map((i) => i.id), [pi.id]);
  }));

  it('local-only calls: callbacks reject, tick does nothing', () => withServer(async (server, transport) => {
    const remote = Client.remote({ baseUrl: BASE, secretKey: SECRET, transport });
    await assert.rejects(remote.handleMpesaCallback('{"Body":{}}'), is('remote_handle', 501));
    assert.throws(() => remote.sync.handleMpesaCallback('{"Body":{}}'), is('remote_handle', 501));
    assert.equal(await remote.tick(), undefined);
    assert.equal(transport.requests, 0);
    remote.close();
  }));
});

// process.env writes reach the C environment (setenv), which
// constra_remote_config_from_env reads.
function withEnv(values, fn) {
  const saved = Object.fromEntries(ENV_VARS.map((k) => [k, process.env[k]]));
  for (const k of ENV_VARS) delete process.env[k];
  Object.assign(process.env, values);
  try { return fn(); } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  }
}

describe('Client.fromEnv', () => {
  const expectFault = (param, code, values) => withEnv(values, () => {
    assert.throws(() => Client.fromEnv(), (e) => {
      assert.ok(e instanceof ConstraError);
      assert.equal(e.param, param);
      assert.equal(e.code, code);
      assert.ok(e.message.includes(param), e.message);
      if (values.CONSTRA_SECRET_KEY) assert.ok(!e.message.includes(values.CONSTRA_SECRET_KEY));
      return true;
    });
  });

  it('names a missing variable', () => {
    expectFault('CONSTRA_API_BASE_URL', 'environment_missing', { CONSTRA_SECRET_KEY: SECRET });
    expectFault('CONSTRA_SECRET_KEY', 'environment_missing', { CONSTRA_API_BASE_URL: BASE });
    expectFault('CONSTRA_API_BASE_URL', 'environment_missing', { CONSTRA_API_BASE_URL: '', CONSTRA_SECRET_KEY: SECRET });
  });

  it('names an invalid variable', () => {
    const ok = { CONSTRA_API_BASE_URL: BASE, CONSTRA_SECRET_KEY: SECRET };
    for (const [name, value] of [['CONSTRA_API_BASE_URL', 'ftp://constra.test/v1'], ['CONSTRA_API_BASE_URL', 'not a url'],
      ['CONSTRA_SECRET_KEY', 'cs_test_\x01\x02bad_key_value'], ['CONSTRA_SECRET_KEY', 'sk_wrong_prefix_0123456789'],
      ['CONSTRA_ENVIRONMENT', 'staging'], ['CONSTRA_ENVIRONMENT', 'live'], ['CONSTRA_DEFAULT_PROVIDER', 'paypal']]) {
      expectFault(name, 'environment_invalid', { ...ok, [name]: value });
    }
  });

  it('refuses options that come from the environment', () => {
    assert.throws(() => Client.fromEnv({ baseUrl: BASE }), (e) => e.param === 'baseUrl');
  });

  it('opens a remote client from a valid environment', async () => {
    const server = new Client({ secretKey: SECRET });
    const remote = withEnv({ CONSTRA_API_BASE_URL: BASE, CONSTRA_SECRET_KEY: SECRET, CONSTRA_DEFAULT_PROVIDER: 'mpesa',
      CONSTRA_WEBHOOK_SECRET: 'whsec_env_test' }, () => {
      const r = Client.fromEnv({ transport: new RouterTransport(server) });
      process.env.CONSTRA_SECRET_KEY = WRONG_KEY; // changes after the open do not matter
      return r;
    });
    assert.equal(remote.webhookSecret, 'whsec_env_test');
    // The worker opens its handle at the first call, after the variables
    // changed back: from the configuration read at fromEnv(), not them.
    const got = await seedFlow(remote);
    remote.close();
    server.close();
    assert.deepEqual(got, await localReference());
  });
});

describe('remote over libcurl to a real constra serve', () => {
  const KEY = 'cs_test_bindings_serve_0123';
  const expected = process.env.CONSTRA_TEST_SERVE === '1';
  let proc = null;
  let url = null;

  before(async () => {
    if (!expected) return;
    const cli = process.env.CONSTRA_CLI || '';
    // The build has serve: a missing binary fails, never skips.
    assert.ok(cli && fs.existsSync(cli), `CONSTRA_CLI=${cli} is not the constra binary`);
    proc = spawn(cli, ['serve', '--host', '127.0.0.1', '--port', '0', '--db', ':memory:', '--secret-key', KEY,
      '--access-log', 'off', '--rate-limit', '100000', '--rate-burst', '100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    url = await new Promise((resolve, reject) => {
      let seen = '';
      const onData = (chunk) => {
        seen += chunk;
        const m = /listening on (http:\S+)/.exec(seen);
        if (m) resolve(m[1] + '/v1');
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.on('exit', (code) => reject(new Error(`constra serve exited (${code}): ${seen}`)));
      setTimeout(() => reject(new Error(`constra serve did not start: ${seen}`)), 20000).unref();
    });
  });

  after(async () => {
    if (proc && proc.exitCode === null) {
      const gone = new Promise((resolve) => proc.on('exit', resolve));
      proc.kill('SIGTERM');
      await gone;
    }
  });

  const serveIt = (name, fn) => it(name, { skip: expected ? false : 'no constra serve with libcurl in this build' }, fn);

  serveIt('maps the server errors', async () => {
    const bad = Client.remote({ baseUrl: url, secretKey: WRONG_KEY });
    await assert.rejects(bad.get(UNKNOWN_ID), is('invalid_api_key', 401));
    bad.close();
    const remote = Client.remote({ baseUrl: url, secretKey: KEY });
    await assert.rejects(remote.get(UNKNOWN_ID), is('resource_missing', 404));
    assert.throws(() => remote.sync.get(UNKNOWN_ID), is('resource_missing', 404));
    await assert.rejects(createSeed(remote, { amount: -5 }, 'order_serve_bad_amount'), (e) => e.httpStatus === 400 && e.param === 'amount');
    remote.close();
  });

  serveIt('runs the seed flow as the local client does', async () => {
    const remote = Client.remote({ baseUrl: url, secretKey: KEY });
    const got = await seedFlow(remote);
    remote.close();
    assert.deepEqual(got, await localReference());
  });

  serveIt('fromEnv reaches it too', async () => {
    const remote = withEnv({ CONSTRA_API_BASE_URL: url, CONSTRA_SECRET_KEY: KEY, CONSTRA_ENVIRONMENT: 'sandbox' },
      () => Client.fromEnv());
    const pi = await createSeed(remote, {}, 'order_serve_from_env');
    assert.equal((await remote.get(pi.id)).status, 'pending_user_action');
    assert.equal((await remote.refresh(pi.id)).status, 'pending_user_action');
    await assert.rejects(remote.refresh(UNKNOWN_ID), is('resource_missing', 404));
    remote.close();
  });

  serveIt('an unreachable server is a transport error (not sent)', async () => {
    const remote = Client.remote({ baseUrl: 'http://127.0.0.1:9/v1', secretKey: KEY, maxTries: 1 });
    await assert.rejects(remote.get(UNKNOWN_ID), (e) => e instanceof ConstraError && e.status === -14);
    remote.close();
  });
});

describe('one vocabulary for remote clients (issue 15 item 6)', () => {
  it("accepts mode 'production' as live, as CONSTRA_ENVIRONMENT does", () => {
    const local = new Client({ secretKey: SECRET });
    const r = Client.remote({ baseUrl: BASE, secretKey: 'cs_live_0123456789abcdef0123', transport: new RouterTransport(local), mode: 'production' });
    r.close();
    const saved = Object.fromEntries(ENV_VARS.map((k) => [k, process.env[k]]));
    try {
      process.env.CONSTRA_API_BASE_URL = BASE;
      process.env.CONSTRA_SECRET_KEY = 'cs_live_0123456789abcdef0123';
      process.env.CONSTRA_ENVIRONMENT = 'production';
      const e = Client.fromEnv({ transport: new RouterTransport(local) });
      e.close();
    } finally {
      for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
      local.close();
    }
  });

  it('a connect failure says what happened, with HTTP status 0 (client side)', { skip: process.env.CONSTRA_TEST_SERVE !== '1' && 'no libcurl' }, async () => {
    const r = Client.remote({ baseUrl: 'http://127.0.0.1:9/v1', secretKey: SECRET, maxTries: 1 });
    try {
      await assert.rejects(r.get(UNKNOWN_ID), (e) => {
        assert.equal(e.httpStatus, 0, e.message);
        assert.match(e.message, /could not connect to 127\.0\.0\.1:9: connection refused/);
        return true;
      });
    } finally { r.close(); }
  });
});
