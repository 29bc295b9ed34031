'use strict';
// A webhook receiver in plain node:http. The signature is checked over the
// raw body bytes BEFORE JSON.parse: parsing and re-serialising changes the
// bytes, and an unverified body must not reach the application at all.
//
//   CONSTRA_WEBHOOK_SECRET=whsec_... node examples/webhook-server.js [port]
const http = require('node:http');
const { verifyWebhook, ConstraError } = require('..');

const SECRET = process.env.CONSTRA_WEBHOOK_SECRET;
const MAX_BODY = 256 * 1024;

function handleEvent(event) {
  console.log(`event ${event.id}: ${event.type}`);
}

function createServer(secret = SECRET, onEvent = handleEvent) {
  if (!secret) throw new Error('set CONSTRA_WEBHOOK_SECRET');
  return http.createServer((req, res) => {
    const reply = (status, obj) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (req.method !== 'POST') return reply(405, { error: 'method_not_allowed' });
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) { reply(413, { error: 'body_too_large' }); req.destroy(); return; }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const raw = Buffer.concat(chunks); // the bytes as they came over the wire
      try {
        verifyWebhook(raw, { secret, signature: req.headers['constra-signature'] ?? '' });
      } catch (e) {
        if (e instanceof ConstraError) return reply(400, { error: e.code });
        throw e;
      }
      let event;
      try { event = JSON.parse(raw.toString('utf8')); } catch { return reply(400, { error: 'invalid_json' }); }
      onEvent(event);
      reply(200, { received: true });
    });
  });
}

if (require.main === module) {
  const port = Number(process.argv[2] || 8787);
  createServer().listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`));
}

module.exports = { createServer };
