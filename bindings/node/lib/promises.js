'use strict';
// The Promise API (issue 15 item 3): `client.promises.<method>(...)`.
//
// Local clients: the engine runs in this process and its calls are short,
// so they stay synchronous (like better-sqlite3) and `promises` merely
// wraps each in a Promise, for code that awaits everything.
//
// Remote clients: a call waits on the network (seconds, retries, backoff),
// which on the main thread would freeze the event loop. `promises` runs
// them on a worker thread (lib/remote_worker.js) that opens its own remote
// handle with the same configuration and makes the blocking C calls there;
// the main thread only posts the call and awaits the answer. A JS
// transport stays on the main thread: the worker's transport callback
// posts each request here, blocks (Atomics.wait) until this side has
// awaited `transport.send(request)` — which may be async and use fetch —
// and reads the answer with receiveMessageOnPort.

const path = require('node:path');
const { Worker, MessageChannel } = require('node:worker_threads');
const { ConstraError } = require('./errors');
const { TransportFailure } = require('./transport');

// Every Client method the Promise API has, local and remote alike.
const METHODS = ['create', 'get', 'refresh', 'confirm', 'retry', 'cancel', 'resolve', 'simulate', 'list',
  'events', 'tick', 'nowMs', 'handleMpesaCallback', 'handleMpesaCallbackPreauthenticated',
  'addWebhookEndpoint', 'webhookEndpoint', 'webhookEndpoints', 'enableWebhookEndpoint',
  'disableWebhookEndpoint', 'deleteWebhookEndpoint', 'rotateWebhookSecret', 'sendTestWebhook',
  'webhookDeliveries', 'replayWebhookDelivery', 'request'];

// Structured clone turns Buffers into Uint8Arrays: turn them back.
function revive(v) {
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(revive);
  if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) v[k] = revive(v[k]);
  }
  return v;
}

function withResponseMethods(r) {
  const headers = r.headers;
  r.header = (name) => { const low = name.toLowerCase(); const h = headers.find(([k]) => k.toLowerCase() === low); return h ? h[1] : null; };
  r.json = () => JSON.parse(r.body.toString('utf8'));
  return r;
}

/** client.promises of a local Client: each synchronous call as a Promise. */
function localPromises(client) {
  const api = {};
  for (const m of METHODS) api[m] = (...args) => new Promise((resolve) => resolve(client[m](...args)));
  api.listAll = (params) => client.listAll(params);
  return Object.freeze(api);
}

/** The worker side of one remote client (created at the first call). */
class RemoteWorker {
  constructor(spec, transport) {
    this.transport = transport;
    this.pending = new Map();
    this.nextId = 1;
    this.closed = false;
    this.lastException = null;
    const workerData = { spec, transport: null };
    const transferList = [];
    if (transport) {
      // [0]: 0 while the worker waits for an answer, 1 once it is posted.
      this.flag = new Int32Array(new SharedArrayBuffer(4));
      const { port1, port2 } = new MessageChannel();
      this.port = port1;
      port1.on('message', (req) => this.onTransportRequest(req));
      port1.unref();
      workerData.transport = { port: port2, flag: this.flag, name: String(transport.name || 'js').slice(0, 15) };
      transferList.push(port2);
    }
    this.worker = new Worker(path.join(__dirname, 'remote_worker.js'), { workerData, transferList });
    this.worker.unref(); // an idle client never keeps the process alive
    this.worker.on('message', (msg) => this.onAnswer(msg));
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', () => {
      this.closed = true;
      this.failAll(new ConstraError('the client is closed', { code: 'client_closed', httpStatus: 500, status: -2 }));
    });
  }

  async onTransportRequest(req) {
    let reply;
    try {
      const request = { ...req, body: revive(req.body) };
      const answer = await this.transport.send(request);
      if (!answer || typeof answer !== 'object') throw new TypeError('send() must return {status, headers, body}');
      reply = { answer: { status: answer.status, headers: answer.headers || [], body: answer.body ?? null } };
    } catch (e) {
      this.lastException = e;
      reply = { error: { kind: e instanceof TransportFailure ? e.kind : 'other', message: String(e && e.message) } };
    }
    try {
      this.port.postMessage(reply);
    } catch (e) { // an answer that cannot be cloned
      this.lastException = e;
      this.port.postMessage({ error: { kind: 'other', message: String(e && e.message) } });
    }
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
  }

  call(method, args) {
    if (this.closed) {
      return Promise.reject(new ConstraError('the client is closed', { code: 'client_closed', httpStatus: 500, status: -2 }));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ id, method, args });
      } catch (e) { // arguments that cannot be cloned (a function, a symbol)
        this.settle(id);
        reject(new ConstraError(`${method}(): an argument cannot be sent to the worker: ${e.message}`,
          { code: 'parameter_invalid', httpStatus: 400, status: -2 }));
      }
    });
  }

  settle(id) {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0 && !this.closed) this.worker.unref();
    return p;
  }

  onAnswer(msg) {
    const p = this.settle(msg.id);
    if (!p) return;
    if (msg.error) {
      const e = msg.error;
      const cause = this.lastException;
      this.lastException = null;
      const err = new ConstraError(e.message, { code: e.code, httpStatus: e.httpStatus, param: e.param, status: e.status,
        cause: cause === null ? undefined : cause });
      if (e.name && e.name !== 'ConstraError') err.name = e.name;
      p.reject(err);
      return;
    }
    this.lastException = null;
    let value = revive(msg.value);
    if (msg.replayed !== undefined && value && typeof value === 'object') {
      Object.defineProperty(value, 'replayed', { value: msg.replayed, enumerable: false });
    }
    if (p.method === 'request') value = withResponseMethods(value);
    p.resolve(value);
  }

  failAll(e) {
    for (const id of [...this.pending.keys()]) this.settle(id).reject(e);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    // Queued after the calls already posted: they finish first.
    this.worker.postMessage({ close: true });
    if (this.pending.size === 0) this.worker.unref();
    if (this.port) this.port.close();
  }
}

/** client.promises of a remote Client: the calls run on a worker thread. */
function remotePromises(client, spec, transport) {
  let rw = null;
  const worker = () => {
    if (client.closed) {
      throw new ConstraError('the client is closed', { code: 'client_closed', httpStatus: 500, status: -2 });
    }
    if (rw === null) rw = new RemoteWorker(spec, transport);
    return rw;
  };
  const api = {};
  for (const m of METHODS) {
    api[m] = (...args) => {
      try { return worker().call(m, args); } catch (e) { return Promise.reject(e); }
    };
  }
  api.listAll = (params) => client.listAll(params);
  return { api: Object.freeze(api), close: () => { if (rw) rw.close(); } };
}

module.exports = { METHODS, localPromises, remotePromises };
