'use strict';
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const { TransportFailure } = require('..');

const SEED = {
  amount: 1250, currency: 'KES', provider: 'mpesa',
  customer: { name: 'Amina N.', phone_number: '254700000000' },
  reference: 'order_7429', description: 'Solar home kit deposit', agentPolicy: 'operator_review',
};
const SEED_KEY = 'order_7429_deposit';
const SECRET = 'cs_test_bindings_0123456789';
const TIMELINE = ['payment_intent.created', 'payment_intent.pending_user_action',
  'payment_intent.requires_recovery', 'payment_intent.pending_user_action', 'payment_intent.succeeded'];

function vectors(name = 'webhook-signatures.json') {
  const dir = process.env.CONSTRA_VECTORS || path.join(__dirname, '..', '..', '..', 'tests', 'vectors');
  return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')).vectors;
}

function createSeed(client, over = {}, key = SEED_KEY) {
  return client.create({ ...SEED, ...over }, { idempotencyKey: key });
}

// An HTTP server in this process in front of a local Client's router that
// answers each request only after `delayMs`: only a free event loop can
// serve it at all.
function slowServer(local, delayMs) {
  const { RouterTransport } = require('..');
  const router = new RouterTransport(local);
  // inFlight / maxInFlight: requests waiting for their answer at once.
  const server = http.createServer((req, res) => {
    const chunks = [];
    server.inFlight++;
    server.maxInFlight = Math.max(server.maxInFlight, server.inFlight);
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => setTimeout(() => {
      server.inFlight--;
      const r = router.send({ method: req.method, url: `http://x${req.url}`, headers: Object.entries(req.headers),
        body: Buffer.concat(chunks) });
      res.writeHead(r.status, Object.fromEntries(r.headers));
      res.end(r.body);
    }, delayMs));
  });
  server.inFlight = 0;
  server.maxInFlight = 0;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// Counts a 100 ms interval's firings while `promise` settles: only a free
// event loop runs it.
async function ticksDuring(promise) {
  let ticks = 0;
  const iv = setInterval(() => { ticks++; }, 100);
  try {
    const value = await promise;
    return { value, ticks };
  } finally { clearInterval(iv); }
}

// A transport of one's own on fetch: async, as a remote client's methods
// (and client.promises) allow. `name` tells the tests' cases apart.
function fetchTransport(name) {
  return {
    name,
    async send(req) {
      let r;
      try {
        r = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body.length ? req.body : undefined });
      } catch (e) {
        throw new TransportFailure(e.cause && e.cause.code === 'ECONNREFUSED' ? 'connect' : 'other', String(e.cause || e));
      }
      return { status: r.status, headers: [...r.headers], body: Buffer.from(await r.arrayBuffer()) };
    },
  };
}

module.exports = { SEED, SEED_KEY, SECRET, TIMELINE, vectors, createSeed, slowServer, ticksDuring, fetchTransport };
