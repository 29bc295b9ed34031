'use strict';
// Every signature vector through verifyWebhook, as string and as Buffer;
// sign/verify round trips; result codes and phone numbers.
const test = require('node:test');
const assert = require('node:assert/strict');
const { verifyWebhook, signWebhook, decodeResult, normalizePhone, ConstraError } = require('..');
const { vectors } = require('./helpers');

const VECTORS = vectors();

function verifyVector(v, body) {
  const opts = { secret: v.secret, scheme: v.scheme, now: v.now ?? 0, tolerance: v.tolerance ?? 0 };
  if (v.scheme === 'standard_webhooks') verifyWebhook(body, { ...opts, headers: v.headers });
  else verifyWebhook(body, { ...opts, signature: v.header });
}

function checkAll(asBuffer) {
  assert.ok(VECTORS.length >= 192);
  let valid = 0, invalid = 0;
  VECTORS.forEach((v, i) => {
    const body = asBuffer ? Buffer.from(v.body, 'utf8') : v.body;
    if (v.expect === 'valid') {
      assert.doesNotThrow(() => verifyVector(v, body), `vector ${i} (${v.scheme}, ${v.reason})`);
      valid++;
    } else {
      assert.throws(() => verifyVector(v, body), (e) => e instanceof ConstraError &&
        e.code.startsWith('signature_') && [400, 401].includes(e.httpStatus), `vector ${i} (${v.reason})`);
      invalid++;
    }
  });
  assert.equal(valid + invalid, VECTORS.length);
  assert.ok(valid > 0 && invalid > 0);
}

test('all signature vectors, string bodies', () => checkAll(false));
test('all signature vectors, Buffer bodies', () => checkAll(true));

test("the Stripe SDKs' and Standard Webhooks libraries' cases", () => {
  const refs = vectors('webhook-reference-libraries.json');
  assert.equal(refs.length, 24);
  refs.forEach((v, i) => {
    if (v.expect === 'valid') assert.doesNotThrow(() => verifyVector(v, Buffer.from(v.body, 'utf8')), `ref ${i} (${v.reason})`);
    else assert.throws(() => verifyVector(v, v.body), (e) => e instanceof ConstraError, `ref ${i} (${v.reason})`);
  });
});

test('vector reasons map to codes', () => {
  const want = { 'timestamp too old': 'signature_expired', 'timestamp too far in the future': 'signature_future',
    'malformed header': 'signature_malformed', 'body changed': 'signature_mismatch' };
  for (const v of VECTORS) {
    if (!(v.reason in want)) continue;
    assert.throws(() => verifyVector(v, v.body), (e) => e.code === want[v.reason]);
  }
});

test('the raw bytes are what is verified', () => {
  const v = VECTORS.find((x) => x.expect === 'valid' && x.body.includes('é'));
  const mangled = Buffer.from(Buffer.from(v.body, 'utf8').toString('latin1'), 'utf8');
  assert.throws(() => verifyVector(v, mangled), (e) => e.code === 'signature_mismatch');
  verifyVector(v, new Uint8Array(Buffer.from(v.body, 'utf8')));
});

test('sign and verify round trip in each scheme', () => {
  const body = Buffer.from('{"id":"evt_1","data":{"note":"€ \u0000 nul inside"}}');
  for (const scheme of ['t_v1', 'body_hex', 'standard_webhooks']) {
    const secret = scheme === 'standard_webhooks' ? 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' : 'whsec_plain';
    const extra = scheme === 'standard_webhooks' ? { msgId: 'msg_1' } : {};
    const sig = signWebhook(body, { secret, scheme, timestamp: 1764689191, ...extra });
    const opts = { secret, scheme, now: 1764689200, signature: sig };
    const std = scheme === 'standard_webhooks' ? { msgId: 'msg_1', timestamp: '1764689191' } : {};
    verifyWebhook(body, { ...opts, ...std });
    assert.throws(() => verifyWebhook(body.subarray(0, body.length - 1), { ...opts, ...std }), (e) => e.code === 'signature_mismatch');
  }
});

test('bad webhook arguments', () => {
  assert.throws(() => verifyWebhook('{}', { secret: 'whsec_x', now: 1 }), (e) => e.code === 'signature_malformed');
  assert.throws(() => verifyWebhook('{}', { signature: 't=1,v1=00', secret: '', now: 1 }), (e) => e.code === 'secret_invalid');
  for (const body of [12, null, undefined, {}, [1, 2]]) {
    assert.throws(() => verifyWebhook(body, { signature: 't=1,v1=00', secret: 'k', now: 1 }), (e) => e.param === 'body');
  }
  assert.throws(() => verifyWebhook('{}', { signature: Buffer.from('t=1'), secret: 'k', now: 1 }), (e) => e.param === 'signature');
  assert.throws(() => verifyWebhook('{}', { signature: 't=1,v1=00', secret: 'k', scheme: 'md5' }), (e) => e.httpStatus === 400);
  assert.throws(() => verifyWebhook('{}', { signature: 't=1,v1=00', secret: 'k', now: -1 }), (e) => e.param === 'now');
  assert.throws(() => verifyWebhook('{}', { signature: 't=1,v1=00', secret: 'k', now: 1.5 }), (e) => e.param === 'now');
  assert.throws(() => verifyWebhook('{}', { signature: 't=1,v1=' + 'a'.repeat(100000), secret: 'k', now: 1 }), (e) => e.code === 'signature_malformed');
  assert.throws(() => verifyWebhook('{}', { signature: 't=1,v1=00', secret: 'k'.repeat(5000), now: 1 }), (e) => e.code === 'secret_invalid');
  assert.throws(() => verifyWebhook('{}', { signature: 't=1,v1=00\0', secret: 'k', now: 1 }), (e) => e.param === 'signature');
  assert.throws(() => verifyWebhook('\ud800', { signature: 't=1,v1=00', secret: 'k', now: 1 }), (e) => e.param === 'body');
});

test('decodeResult', () => {
  const r = decodeResult(1032);
  assert.equal(r.outcome, 'requires_recovery');
  assert.equal(r.recommendedAction, 'retry');
  assert.equal(decodeResult('0', { api: 'stk' }).outcome, 'succeeded');
  const unknown = decodeResult('99999');
  assert.equal(unknown.known, false);
  assert.equal(unknown.outcome, 'review_required');
  for (const bad of ['', ' ', '10 32', 'x'.repeat(100)]) assert.throws(() => decodeResult(bad), (e) => e.param === 'code');
  for (const bad of [null, 1.5, true, {}]) assert.throws(() => decodeResult(bad), (e) => e.param === 'code');
  assert.throws(() => decodeResult(0, { api: 'sms' }), (e) => e.httpStatus === 400);
});

test('normalizePhone', () => {
  for (const form of ['0712 345 678', '+254712345678', '254712345678', '712345678']) assert.equal(normalizePhone(form), '254712345678');
  const cases = { '0712a45678': 'phone_invalid_character', '+255712345678': 'phone_not_kenyan', '0201234567': 'phone_not_mobile', ['1'.repeat(5000)]: 'phone_too_long' };
  for (const [text, code] of Object.entries(cases)) assert.throws(() => normalizePhone(text), (e) => e.code === code && e.param === 'phone');
  assert.throws(() => normalizePhone(712345678), (e) => e.param === 'phone');
  assert.throws(() => normalizePhone(undefined), (e) => e.code === 'parameter_missing');
});
