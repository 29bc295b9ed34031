'use strict';
const fs = require('node:fs');
const path = require('node:path');

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

module.exports = { SEED, SEED_KEY, SECRET, TIMELINE, vectors, createSeed };
