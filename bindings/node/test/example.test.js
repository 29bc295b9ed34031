'use strict';
// examples/webhook-server.js on loopback: a signed delivery is accepted, an
// unsigned, tampered or stale one is refused before any parsing.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { signWebhook } = require('..');
const { createServer } = require('../examples/webhook-server');

function post(port, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('webhook example verifies the raw body before parsing', async () => {
  const secret = 'whsec_example_secret';
  const seen = [];
  const server = createServer(secret, (e) => seen.push(e.id));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  try {
    const body = Buffer.from('{"id":"evt_1","type":"payment_intent.succeeded","data":{"note":"é"}}');
    const sig = signWebhook(body, { secret });
    assert.deepEqual(await post(port, body, { 'Constra-Signature': sig }), { status: 200, body: { received: true } });
    assert.equal((await post(port, body, {})).body.error, 'signature_malformed');
    const tampered = Buffer.from(body.toString().replace('evt_1', 'evt_2'));
    assert.equal((await post(port, tampered, { 'Constra-Signature': sig })).body.error, 'signature_mismatch');
    const old = signWebhook(body, { secret, timestamp: Math.floor(Date.now() / 1000) - 3600 });
    assert.equal((await post(port, body, { 'Constra-Signature': old })).body.error, 'signature_expired');
    const junk = Buffer.from('not json');
    assert.equal((await post(port, junk, { 'Constra-Signature': signWebhook(junk, { secret }) })).body.error, 'invalid_json');
    assert.deepEqual(seen, ['evt_1']);
  } finally {
    server.close();
  }
});
