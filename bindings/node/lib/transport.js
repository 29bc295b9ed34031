'use strict';
// Transports (include/constra/transport.h) implemented in JavaScript, and
// the C loopback serving the REST router in process.
//
// A JS transport is an object with send(request) -> {status, headers,
// body}. Throw a TransportFailure whose kind says what is known:
// 'connect' / 'tls' (never sent: retrying is safe) or 'timeout',
// 'protocol', 'too_large', 'other' (may have been acted on: reconcile,
// never retry blindly). Any other exception counts as 'other'.

const { koffi, C, initStruct, newError, takeBytes, types: T, protos: P, apiLoopbackHandler } = require('./native');
const { ConstraError, fromError, wrongType, cstr, cint, bodyBytes } = require('./errors');

const FAILURES = { connect: 1, tls: 2, timeout: 3, too_large: 4, protocol: 5, other: 6 };
const E_TRANSPORT = -14;
const E_OUTCOME_UNKNOWN = -15;
const INT64_MAX = (1n << 63n) - 1n;

class TransportFailure extends Error {
  constructor(kind, message = kind) {
    if (!(kind in FAILURES)) throw new TypeError(`unknown transport failure kind ${kind}`);
    super(message);
    this.name = 'TransportFailure';
    this.kind = kind;
  }
}

/** Sends every request into a Client's in-process REST router. */
class RouterTransport {
  constructor(client) { this.client = client; this.requests = 0; this.name = 'router'; }
  send(req) {
    this.requests++;
    const u = new URL(req.url);
    const r = this.client.request(req.method, u.pathname + u.search, req.headers, req.body.length ? req.body : null);
    return { status: r.status, headers: r.headers, body: r.body };
  }
}

/**
 * A transport on the global fetch() (undici): async, so for the methods of
 * a remote client (await client.create(...)), not client.sync.*. Failures are classified as the
 * library needs them: a refused or unresolvable connection is 'connect'
 * (never sent, safe to retry), the request's time-out 'timeout', anything
 * else after the request may have left 'other' (outcome unknown).
 */
class FetchTransport {
  constructor({ fetch: f = globalThis.fetch } = {}) {
    if (typeof f !== 'function') throw wrongType('fetch', 'a function', f);
    this.fetch = f;
    this.name = 'fetch';
  }

  async send(req) {
    const signal = req.timeoutMs > 0 ? AbortSignal.timeout(req.timeoutMs) : undefined;
    let res;
    try {
      res = await this.fetch(req.url, { method: req.method, headers: req.headers, signal,
        body: req.body && req.body.length ? req.body : undefined, redirect: 'manual' });
    } catch (e) {
      throw FetchTransport.failure(e);
    }
    try {
      return { status: res.status, headers: [...res.headers], body: Buffer.from(await res.arrayBuffer()) };
    } catch (e) {
      const f = FetchTransport.failure(e);
      throw f.kind === 'connect' ? new TransportFailure('protocol', f.message) : f; // the request did leave
    }
  }

  static failure(e) {
    const cause = e && e.cause;
    const code = (cause && cause.code) || (e && e.code) || '';
    const what = String((cause && cause.message) || (e && e.message) || e);
    if (e && (e.name === 'TimeoutError' || e.name === 'AbortError')) return new TransportFailure('timeout', `fetch: ${what}`);
    // fetch refuses some ports before connecting ("bad port": 9, 25, ...).
    if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)
      || what === 'bad port') {
      return new TransportFailure('connect', `fetch: ${what}`);
    }
    if (String(code).startsWith('ERR_TLS') || /certificate/i.test(what)) return new TransportFailure('tls', `fetch: ${what}`);
    return new TransportFailure('other', `fetch: ${what}`);
  }
}

const headerSize = BigInt(koffi.sizeof(koffi.type('constra_http_header')));

/** A constra_transport whose send() calls a JS transport; release() after use. */
class TransportAdapter {
  constructor(transport) {
    if (!transport || typeof transport.send !== 'function') throw wrongType('transport', 'an object with send(request)', transport);
    this.transport = transport;
    this.lastException = null;
    this.vtable = initStruct(C.transport_init, T.TransportT);
    this.vtable.name = String(transport.name || 'js').slice(0, 15);
    this.sendCb = koffi.register((ud, reqPtr, resp) => this.onSend(reqPtr, resp), koffi.pointer(P.TransportSendFn));
    this.destroyCb = koffi.register(() => {
      try { if (typeof this.transport.close === 'function') this.transport.close(); } catch (e) { this.lastException = e; }
    }, koffi.pointer(P.DestroyFn));
    this.vtable.send = this.sendCb;
    this.vtable.destroy = this.destroyCb;
  }

  onSend(reqPtr, resp) {
    try {
      const r = koffi.decode(reqPtr, T.TransportRequestT);
      const headers = [];
      for (let i = 0n; i < BigInt(r.header_count); i++) {
        const h = koffi.decode(r.headers + i * headerSize, 'constra_http_header');
        headers.push([h.name, h.value]);
      }
      const answer = this.transport.send({
        method: r.method, url: r.url, headers, body: takeBytes(r.body, r.body_len),
        connectTimeoutMs: Number(r.connect_timeout_ms), timeoutMs: Number(r.timeout_ms),
        maxResponseBytes: Number(r.max_response_bytes),
      });
      if (answer && typeof answer.then === 'function') {
        answer.then(() => {}, () => {}); // settled elsewhere; never an unhandled rejection
        // Only a remote client's own (asynchronous) methods can wait for it:
        // they run on a worker that blocks while this thread awaits send().
        throw new TypeError('send() returned a Promise: an async transport works through the methods of a remote '
          + 'client (await client.get(...)), not the synchronous client.sync.* or sendRequest()');
      }
      if (!answer || typeof answer !== 'object') throw new TypeError('send() must return {status, headers, body}');
      if (!Number.isInteger(answer.status)) throw new TypeError('status must be an integer');
      if (C.transport_response_set_status(resp, answer.status) !== 0) throw new RangeError(`HTTP status ${answer.status} is out of range`);
      for (const [name, value] of answer.headers || []) {
        const n = Buffer.from(String(name), 'latin1');
        const v = Buffer.from(String(value), 'latin1');
        const rc = C.transport_response_add_header(resp, n, n.length, v, v.length);
        if (rc !== 0) return rc;
      }
      const body = answer.body === undefined || answer.body === null ? Buffer.alloc(0) : bodyBytes(answer.body);
      return body.length ? C.transport_response_append(resp, body, body.length) : 0;
    } catch (e) {
      this.lastException = e;
      const kind = e instanceof TransportFailure ? e.kind : 'other';
      return C.transport_response_fail(resp, FAILURES[kind], String(e && e.message).slice(0, 200));
    }
  }

  takeException() { const e = this.lastException; this.lastException = null; return e; }

  release() {
    if (this.sendCb) { koffi.unregister(this.sendCb); koffi.unregister(this.destroyCb); this.sendCb = null; }
  }
}

/** The C loopback table: mountRouter(origin, client), then send() through it. close() when done. */
class Loopback {
  constructor() {
    const err = newError();
    const out = [null];
    let rc = C.loopback_new(out, null, err);
    if (rc !== 0) throw fromError(rc, err);
    this.lb = out[0];
    this.clients = [];
    this.vtable = initStruct(C.transport_init, T.TransportT);
    rc = C.loopback_transport(this.lb, this.vtable, err);
    if (rc !== 0) { C.loopback_free(this.lb); throw fromError(rc, err); }
  }

  live() {
    if (this.lb === null) throw new ConstraError('the loopback is closed', { code: 'loopback_closed' });
    return this.lb;
  }

  mountRouter(origin, client) {
    const err = newError();
    const rc = C.loopback_mount(this.live(), cstr(origin, 'origin', { required: true }), apiLoopbackHandler, client._h(), err);
    if (rc !== 0) throw fromError(rc, err);
    this.clients.push(client); // the handle must outlive every send
  }

  get requestCount() { return Number(C.loopback_request_count(this.live())); }

  close() {
    if (this.lb === null) return;
    koffi.call(this.vtable.destroy, P.DestroyFn, this.vtable.user_data); // the transport's reference
    C.loopback_free(this.lb);
    this.lb = null;
    this.clients = [];
  }
}

/**
 * One exchange through constra_transport_send(): the library checks the
 * request (no header injection, a valid URL), calls the transport and caps
 * the response. Returns {status, headers, body, header(), json()}; throws
 * ConstraError with status -14 (not sent) or -15 (outcome unknown), the
 * JS transport's exception as `cause`.
 */
function send(transport, method, url, headers = {}, body = null, { timeoutMs = 0, connectTimeoutMs = 0, maxResponseBytes = 0 } = {}) {
  let adapter = null;
  let vt;
  if (transport instanceof Loopback) { transport.live(); vt = transport.vtable; }
  else { adapter = new TransportAdapter(transport); vt = adapter.vtable; }
  try {
    const req = initStruct(C.transport_request_init, T.TransportRequestT);
    req.method = cstr(method, 'method', { required: true });
    req.url = cstr(url, 'url', { required: true });
    const pairs = Array.isArray(headers) ? headers : Object.entries(headers ?? {});
    const hs = pairs.map((pair) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw wrongType('headers', 'an object or [name, value] pairs', pair);
      return { name: cstr(pair[0], 'headers', { required: true }), value: cstr(pair[1], 'headers', { required: true }) };
    });
    // The header array must sit in C memory for the call.
    const mem = hs.length ? koffi.alloc('constra_http_header', hs.length) : null;
    try {
      if (mem) koffi.encode(mem, koffi.array('constra_http_header', hs.length), hs);
      req.headers = mem;
      req.header_count = hs.length;
      const raw = body === null || body === undefined ? Buffer.alloc(0) : bodyBytes(body);
      req.body = raw.length ? raw : null;
      req.body_len = raw.length;
      req.timeout_ms = cint(timeoutMs, 'timeout_ms', 0n, INT64_MAX);
      req.connect_timeout_ms = cint(connectTimeoutMs, 'connect_timeout_ms', 0n, INT64_MAX);
      req.max_response_bytes = cint(maxResponseBytes, 'max_response_bytes', 0n, INT64_MAX);
      const out = [null];
      const err = newError();
      const rc = C.transport_send(vt, null, req, out, err);
      if (rc !== 0) {
        const cause = adapter ? adapter.takeException() : null;
        const e = fromError(rc, err, cause === null ? undefined : cause);
        e.outcomeUnknown = rc === E_OUTCOME_UNKNOWN;
        e.notSent = rc === E_TRANSPORT;
        throw e;
      }
      const r = out[0];
      try {
        const len = [0];
        const resBody = takeBytes(C.transport_response_body(r, len), len[0]);
        const resHeaders = [];
        const n = Number(C.transport_response_header_count(r));
        for (let i = 0; i < n; i++) resHeaders.push([C.transport_response_header_name(r, i), C.transport_response_header_value(r, i)]);
        return {
          status: C.transport_response_status(r), headers: resHeaders, body: resBody,
          header(name) { const low = name.toLowerCase(); const h = resHeaders.find(([k]) => k.toLowerCase() === low); return h ? h[1] : null; },
          json() { return JSON.parse(resBody.toString('utf8')); },
        };
      } finally { C.transport_response_free(r); }
    } finally { if (mem) koffi.free(mem); }
  } finally {
    if (adapter) adapter.release();
  }
}

module.exports = { TransportFailure, RouterTransport, FetchTransport, Loopback, send, TransportAdapter };
