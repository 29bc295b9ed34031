'use strict';
// The asynchronous calls of a client (issue 15 item 3).
//
// Remote clients: a call waits on the network (seconds, retries, backoff),
// which on the main thread would freeze the event loop. So every method of
// a remote client (RemoteClient in index.js; `client.promises` is the same functions)
// runs on a worker thread (lib/remote_worker.js) that opens its own remote
// handle with the same configuration and makes the blocking C calls there;
// the main thread only posts the call and awaits the answer. A client has
// a small pool of such workers (`concurrency`, default 4): calls awaited
// together go out together, as they would from any HTTP client, instead of
// queueing behind one slow request; each worker runs its calls one at a
// time in arrival order. A JS transport stays on the main thread: the
// worker's transport callback posts each request here, blocks
// (Atomics.wait) until this side has awaited `transport.send(request)` —
// which may be async and use fetch — and reads the answer with
// receiveMessageOnPort.
//
// Local clients: the engine runs in this process and its calls are short,
// so they stay synchronous (like better-sqlite3) and `promises` merely
// wraps each in a Promise, for code that awaits everything.

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

const closedError = () => new ConstraError('the client is closed', { code: 'client_closed', httpStatus: 500, status: -2 });

/** One worker thread of a remote client (created when a call needs it). */
class RemoteWorker {
  constructor(spec, transport, onExit) {
    this.transport = transport;
    this.pending = new Map();
    // What the JS transport threw during a call, by call id: the rejected
    // error's `cause`, as the synchronous path gives it (takeException).
    // Keyed by call, never "the last one", so that calls running together
    // on several workers never swap their causes.
    this.causes = new Map();
    this.closed = false;
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
      this.failAll(closedError());
      if (this.port) this.port.close();
      onExit(this);
    });
  }

  async onTransportRequest({ call, request: req }) {
    let reply;
    try {
      const request = { ...req, body: revive(req.body) };
      const answer = await this.transport.send(request);
      if (!answer || typeof answer !== 'object') throw new TypeError('send() must return {status, headers, body}');
      reply = { answer: { status: answer.status, headers: answer.headers || [], body: answer.body ?? null } };
    } catch (e) {
      this.causes.set(call, e);
      reply = { error: { kind: e instanceof TransportFailure ? e.kind : 'other', message: String(e && e.message) } };
    }
    try {
      this.port.postMessage(reply);
    } catch (e) { // an answer that cannot be cloned
      this.causes.set(call, e);
      this.port.postMessage({ error: { kind: 'other', message: String(e && e.message) } });
    }
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
  }

  call(id, method, args) {
    if (this.closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      if (this.pending.size === 1) this.worker.ref(); // a call in flight keeps the process alive
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
    const cause = this.causes.has(msg.id) ? this.causes.get(msg.id) : undefined;
    this.causes.delete(msg.id);
    if (!p) return;
    if (msg.error) {
      p.reject(rebuildError(msg.error, cause));
      return;
    }
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
    // Queued after the calls already posted: they finish first, then the
    // worker closes its handle and its port, and exits.
    this.worker.postMessage({ close: true });
    if (this.pending.size === 0) this.worker.unref();
  }
}

// The ConstraError the synchronous call threw in the worker, rebuilt here
// with the same fields (structured clone keeps only an Error's message):
// code, message, param, httpStatus, status, and the name (ConstraTypeError
// for a wrong argument type), plus the flags a transport error carries.
function rebuildError(e, cause) {
  const err = new ConstraError(e.message, { code: e.code, httpStatus: e.httpStatus, param: e.param, status: e.status, cause });
  if (e.name && e.name !== 'ConstraError') err.name = e.name;
  return err;
}

const DEFAULT_CONCURRENCY = 4;
// Calls a remote handle answers without the server (tick does nothing,
// nowMs reads this machine's clock, the callbacks throw remote_handle):
// made here, in a Promise, without starting a worker.
const LOCAL_ONLY = new Set(['tick', 'nowMs', 'handleMpesaCallback', 'handleMpesaCallbackPreauthenticated']);

/**
 * The asynchronous calls of a remote Client: `api` has every method,
 * returning a Promise; the calls run on up to `concurrency` worker threads.
 */
function remotePromises(client, spec, transport, concurrency = DEFAULT_CONCURRENCY) {
  const ref = new WeakRef(client);
  const workers = [];
  let nextId = 1;
  let closed = false;
  const dropped = (w) => { const i = workers.indexOf(w); if (i >= 0) workers.splice(i, 1); };
  const spawn = () => {
    const w = new RemoteWorker(spec, transport, dropped);
    workers.push(w);
    return w;
  };
  // Every call's state is the server's (webhook endpoints included), so
  // any worker serves any call: an idle one if there is one, else a new
  // one while under the cap, else the least busy (its calls queue in
  // arrival order).
  const pick = () => {
    const c = ref.deref();
    if (closed || c === undefined || c.closed) throw closedError();
    let best = null;
    for (const w of workers) if (best === null || w.pending.size < best.pending.size) best = w;
    if (best !== null && (best.pending.size === 0 || workers.length >= concurrency)) return best;
    return spawn();
  };
  const api = {};
  for (const m of METHODS) {
    api[m] = LOCAL_ONLY.has(m)
      ? (...args) => new Promise((resolve) => {
        const c = ref.deref();
        if (c === undefined) throw closedError();
        resolve(c.sync[m](...args));
      })
      : (...args) => {
        try { return pick().call(nextId++, m, args); } catch (e) { return Promise.reject(e); }
      };
  }
  api.listAll = (params) => {
    const c = ref.deref();
    if (c === undefined) throw closedError();
    return c.listAll(params);
  };
  return {
    api: Object.freeze(api),
    close: () => { closed = true; for (const w of [...workers]) w.close(); },
    get workerCount() { return workers.length; },
  };
}

module.exports = { METHODS, localPromises, remotePromises, DEFAULT_CONCURRENCY };
