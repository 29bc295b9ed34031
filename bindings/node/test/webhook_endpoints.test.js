'use strict';
// Webhook endpoints and deliveries from Node: register, deliver through a
// JS transport, verify three ways, rotate with overlap, test events,
// disable/enable, replay, delete, bad input. On memory and SQLite.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client, ConstraError, verifyWebhook } = require('..');

function receiver() {
  const rx = { got: [], plan: [] };
  rx.send = (req) => {
    rx.got.push(req);
    return { status: rx.plan.length ? rx.plan.shift() : 200, headers: [], body: Buffer.alloc(0) };
  };
  return rx;
}

function header(req, name) {
  const hs = Array.isArray(req.headers) ? req.headers : Object.entries(req.headers);
  const hit = hs.find(([k]) => k.toLowerCase() === name.toLowerCase());
  return hit ? hit[1] : null;
}

function headerMap(req) {
  const hs = Array.isArray(req.headers) ? req.headers : Object.entries(req.headers);
  return Object.fromEntries(hs);
}

function verifyThree(req, secret, bodyHex = true) {
  verifyWebhook(req.body, { signature: header(req, 'Constra-Signature'), secret, scheme: 't_v1' });
  verifyWebhook(req.body, { secret, scheme: 'standard_webhooks', headers: headerMap(req) });
  if (bodyHex) verifyWebhook(req.body, { signature: header(req, 'Constra-Signature-Body'), secret, scheme: 'body_hex' });
}

for (const kind of ['memory', 'sqlite']) {
  test(`webhook endpoints end to end (${kind})`, () => {
    const storage = kind === 'memory' ? 'memory'
      : 'sqlite:' + path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'constra-node-wh-')), 'db.sqlite');
    const rx = receiver();
    const c = new Client({ storage, webhookTransport: rx });
    try {
      const ep = c.addWebhookEndpoint('http://hooks.test/node');
      assert.ok(ep.id.startsWith('we_') && ep.secret.startsWith('whsec_'));
      assert.deepEqual(ep.enabled_events, ['*']);
      assert.equal(ep.status, 'enabled');
      assert.equal(c.webhookEndpoint(ep.id).secret, undefined);
      assert.deepEqual(c.webhookEndpoints().map((e) => e.id), [ep.id]);

      const pi = c.create({ amount: 1250, phoneNumber: '254700000000' }, { idempotencyKey: 'node-wh-1' });
      c.simulate(pi.id, 0);
      c.tick();
      const types = rx.got.map((r) => header(r, 'Constra-Event-Type'));
      assert.ok(types.includes('payment_intent.created') && types.includes('payment_intent.succeeded'), types.join());
      for (const r of rx.got) { assert.equal(r.url, 'http://hooks.test/node'); verifyThree(r, ep.secret); }
      const dl = c.webhookDeliveries({ endpoint: ep.id, status: 'delivered' });
      assert.equal(dl.length, rx.got.length);
      assert.ok(dl.every((d) => d.attempt_count === 1 && d.last_http_status === 200));

      let n = rx.got.length;
      c.replayWebhookDelivery(dl[0].id);
      c.tick();
      assert.equal(rx.got.length, n + 1);
      assert.equal(header(rx.got[n], 'Constra-Delivery-Id'), dl[0].id);
      assert.ok(Buffer.from(rx.got[n].body).equals(dl[0].body));

      rx.plan = [500];
      const did = c.sendTestWebhook(ep.id);
      assert.ok(did.startsWith('whd_'));
      c.tick();
      const pend = c.webhookDeliveries({ status: 'pending' });
      assert.deepEqual(pend.map((d) => d.id), [did]);
      assert.equal(pend[0].event_type, 'webhook.test');
      assert.equal(pend[0].last_error, 'http_500');
      assert.ok(pend[0].next_attempt_at_ms > c.nowMs());
      assert.throws(() => c.replayWebhookDelivery(did), (e) => e instanceof ConstraError && e.httpStatus === 409);

      const rot = c.rotateWebhookSecret(ep.id, { overlapMs: 600000 });
      assert.notEqual(rot.secret, ep.secret);
      n = rx.got.length;
      c.sendTestWebhook(ep.id);
      c.tick();
      assert.equal(rx.got.length, n + 1);
      verifyThree(rx.got[n], rot.secret);
      verifyThree(rx.got[n], ep.secret, false);

      assert.equal(c.disableWebhookEndpoint(ep.id).status, 'disabled');
      n = rx.got.length;
      c.create({ amount: 100, phoneNumber: '254700000000' }, { idempotencyKey: 'node-wh-2' });
      c.tick();
      assert.equal(rx.got.length, n);
      assert.equal(c.enableWebhookEndpoint(ep.id).status, 'enabled');
      c.deleteWebhookEndpoint(ep.id);
      assert.deepEqual(c.webhookEndpoints(), []);
      assert.throws(() => c.webhookEndpoint(ep.id), (e) => e.httpStatus === 404);
    } finally {
      c.close();
    }
  });
}

test('webhook endpoints: bad input', () => {
  const c = new Client();
  try {
    for (const [url, opts, param] of [['ftp://x.test/', {}, 'url'], ['http://a@b.test/', {}, 'url'],
      ['http://x.test/', { enabledEvents: ['nope'] }, 'event_types'], ['http://x.test/', { secret: 'short' }, 'secret']]) {
      assert.throws(() => c.addWebhookEndpoint(url, opts), (e) => e instanceof ConstraError && e.param === param, url);
    }
    assert.throws(() => c.addWebhookEndpoint('http://x.test/', { enabledEvents: '*' }), (e) => e.param === 'enabledEvents');
    assert.throws(() => c.addWebhookEndpoint(42), (e) => e.param === 'url');
    assert.deepEqual(c.webhookEndpoints(), []);
    for (const call of [() => c.rotateWebhookSecret('we_nope'), () => c.sendTestWebhook('we_nope'),
      () => c.replayWebhookDelivery('whd_nope'), () => c.deleteWebhookEndpoint('we_nope')]) {
      assert.throws(call, (e) => e instanceof ConstraError && e.httpStatus === 404);
    }
    const ep = c.addWebhookEndpoint('http://x.test/');
    assert.throws(() => c.rotateWebhookSecret(ep.id, { overlapMs: 8 * 86400000 }), (e) => e.param === 'overlap_ms');
    assert.throws(() => c.webhookDeliveries({ status: 'bogus' }), ConstraError);
  } finally {
    c.close();
  }
});

test('webhook endpoints: description and signature scheme', () => {
  const rx = receiver();
  const c = new Client({ webhookTransport: rx });
  try {
    const ep = c.addWebhookEndpoint('http://hooks.test/s', { description: 'Till \u00e9 4', scheme: 'constra' });
    assert.equal(ep.description, 'Till \u00e9 4');
    assert.equal(ep.scheme, 'constra');
    assert.equal(c.webhookEndpoint(ep.id).description, 'Till \u00e9 4');
    c.sendTestWebhook(ep.id);
    c.tick();
    assert.equal(rx.got.length, 1);
    assert.equal(header(rx.got[0], 'webhook-signature'), null);
    assert.ok(header(rx.got[0], 'Constra-Signature'));
    c.deleteWebhookEndpoint(ep.id);
    const std = c.addWebhookEndpoint('http://hooks.test/s', { scheme: 'standard_webhooks' });
    assert.equal(std.description, null);
    c.sendTestWebhook(std.id);
    c.tick();
    assert.equal(rx.got.length, 2);
    assert.equal(header(rx.got[1], 'Constra-Signature'), null);
    verifyWebhook(rx.got[1].body, { secret: std.secret, scheme: 'standard_webhooks', headers: headerMap(rx.got[1]) });
    assert.equal(c.addWebhookEndpoint('http://hooks.test/d').scheme, 'all');
    for (const [opts, param, code] of [[{ scheme: 'nope' }, 'scheme', 'webhook_scheme_unknown'],
      [{ description: 'x'.repeat(501) }, 'description', null],
      [{ description: 'bell\u0007' }, 'description', 'parameter_invalid'],
      [{ scheme: 'standard_webhooks', secret: 'plain-secret-0123456789' }, 'secret', 'secret_invalid'],
      [{ colour: 'red' }, 'colour', 'parameter_unknown']]) {
      assert.throws(() => c.addWebhookEndpoint('http://hooks.test/b', opts),
        (e) => e instanceof ConstraError && e.param === param && (code === null || e.code === code), JSON.stringify(opts));
    }
    assert.equal(c.webhookEndpoints().length, 2);
  } finally {
    c.close();
  }
});
