'use strict';
// libconstra for Node.js, over the stable C ABI through koffi.
// Loads libconstra.so.0 from CONSTRA_LIBRARY, the system loader, or a
// build*/lib directory of the source tree (lib/native.js).

const native = require('./lib/native');
const { koffi, C, initStruct, newError, takeBytes, types: T } = native;
const { ConstraError, fromError, wrongType, invalid, cstr, cint, bodyBytes } = require('./lib/errors');
const { Storage, DictStorage, StorageAdapter, StorageConflict, StorageNotFound, StorageInvalid, METHODS } = require('./lib/storage');
const { TransportAdapter } = require('./lib/transport');
const { METHODS: CLIENT_METHODS, localPromises, remotePromises, DEFAULT_CONCURRENCY } = require('./lib/promises');

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const STATUSES = { draft: 1, pending_user_action: 2, succeeded: 3, requires_recovery: 4,
  review_required: 5, failed: 6, cancelled: 7 };
const AGENT_POLICIES = { operator_review: 0, auto_retry: 1, none: 2 };
const MODES = { sandbox: 0, live: 1 };
// The hosted docs call live "production" (CONSTRA_ENVIRONMENT too).
const MODE_ALIASES = { production: 'live' };

// What REST accepts, and what it answers for anything else: 400
// parameter_unknown naming the parameter (lib/api/body.c).
const CREATE_PARAMS = new Set(['amount', 'currency', 'phoneNumber', 'customer', 'customerName', 'reference',
  'description', 'agentPolicy', 'draft', 'provider', 'metadata']);
const CREATE_OPTIONS = new Set(['idempotencyKey']);
const LIST_PARAMS = new Set(['status', 'reference', 'createdFromMs', 'createdToMs', 'startingAfter', 'limit']);

function refuseUnknown(obj, known) {
  for (const k of Object.keys(obj)) {
    if (!known.has(k)) {
      const name = JSON.stringify(k).slice(1, -1).slice(0, 80);
      throw invalid(name, `unknown parameter ${name}`, 'parameter_unknown');
    }
  }
}

// A forgotten Client is closed by the garbage collector: the held value
// is the state object, never the Client itself.
const finalizer = new FinalizationRegistry((state) => closeState(state));

function closeState(state) {
  if (state.promises) { state.promises.close(); state.promises = null; }
  if (state.handle !== null) {
    const h = state.handle;
    state.handle = null;
    C.close(h);
  }
  // Only after constra_close (which calls the storage's destroy) may the
  // callbacks be unregistered.
  if (state.adapter) { state.adapter.release(); state.adapter = null; }
  if (state.transportAdapter) { state.transportAdapter.release(); state.transportAdapter = null; }
}

const REMOTE_INTS = { maxTries: 'max_tries', maxAttempts: 'max_attempts' };
const REMOTE_INT64S = { backoffBaseMs: 'backoff_base_ms', backoffMaxMs: 'backoff_max_ms',
  connectTimeoutMs: 'connect_timeout_ms', timeoutMs: 'timeout_ms', maxResponseBytes: 'max_response_bytes' };
// concurrency: the worker threads a remote client's calls run on (lib/promises.js), not a C setting.
const REMOTE_OPTIONS = new Set(['baseUrl', 'secretKey', 'transport', 'mode', 'defaultProvider',
  'webhookSecret', 'concurrency', ...Object.keys(REMOTE_INTS), ...Object.keys(REMOTE_INT64S)]);

function makeStorage(storage) {
  if (storage === undefined || storage === null) storage = 'memory';
  if (typeof storage === 'string') {
    const vt = initStruct(C.storage_init, T.StorageT);
    const err = newError();
    let rc;
    if (storage === 'memory') rc = C.storage_memory(vt, null, err);
    else if (storage.startsWith('sqlite:')) {
      const path = cstr(storage.slice('sqlite:'.length), 'storage', { required: true });
      if (!path) throw invalid('storage', 'sqlite: needs a path, e.g. sqlite:/var/constra.db');
      const opts = initStruct(C.sqlite_options_init, T.SqliteOptionsT);
      opts.path = path;
      rc = C.storage_sqlite(vt, null, opts, err);
    } else throw invalid('storage', "storage must be 'memory', 'sqlite:<path>' or a storage object");
    if (rc !== 0) throw fromError(rc, err);
    return { vt, adapter: null, owned: true };
  }
  if (typeof storage !== 'object') throw wrongType('storage', "'memory', 'sqlite:<path>' or a storage object", storage);
  const missing = METHODS.filter((m) => typeof storage[m] !== 'function');
  if (missing.length) throw wrongType('storage', `a storage object (missing ${missing.join(', ')})`, storage);
  const adapter = new StorageAdapter(storage);
  return { vt: adapter.vtable, adapter, owned: false };
}

/**
 * The payment-intent engine in this process (a libconstra handle).
 * Methods return objects equal to the REST API's JSON and throw
 * ConstraError (code, httpStatus, param) on failure, leaving stored state
 * as it was. Call close() when done; a finalizer closes a forgotten one.
 * The rail is the simulator, so the local Client is sandbox only: mode
 * 'live' throws `live_needs_real_rail` (reach a live workspace with
 * Client.remote()). Every storage records the workspace's mode (records
 * of kind "meta") and refuses the other one: `workspace_mode_mismatch`.
 */
// The metadata object as the JSON text the C library takes. Types are
// checked here (JSON.stringify would write a number or drop an undefined);
// the limits are the library's to enforce.
function metadataText(metadata) {
  if (metadata === undefined || metadata === null) return null;
  if (typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw wrongType('metadata', 'an object of string values', metadata);
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw wrongType(`metadata.${k}`, 'a string', v);
  }
  return JSON.stringify(metadata);
}

class Client {
  constructor({ storage = 'memory', secretKey = null, mode = 'sandbox', callbackTimeoutMs = 0,
    maxAttempts = 0, idempotencyRetentionMs = 0, amountMax = 0, webhookTransport = null } = {}) {
    if (typeof mode !== 'string') throw wrongType('mode', 'a string', mode);
    if (!(mode in MODES)) throw invalid('mode', "mode must be 'sandbox' or 'live'");
    const cfg = initStruct(C.config_init, T.ConfigT);
    cfg.mode = MODES[mode];
    cfg.callback_timeout_ms = cint(callbackTimeoutMs, 'callbackTimeoutMs', 0n, INT64_MAX);
    cfg.max_attempts = Number(cint(maxAttempts, 'maxAttempts', 0n, 2147483647n));
    cfg.idempotency_retention_ms = cint(idempotencyRetentionMs, 'idempotencyRetentionMs', 0n, INT64_MAX);
    cfg.amount_max = cint(amountMax, 'amountMax', 0n, INT64_MAX);
    cfg.secret_key = cstr(secretKey, 'secretKey');
    // webhookTransport: a JS transport {send(request)} the engine POSTs
    // webhook deliveries through on each tick; null: they queue unsent.
    const hooks = webhookTransport === null || webhookTransport === undefined ? null : new TransportAdapter(webhookTransport);
    const { vt, adapter, owned } = makeStorage(storage);
    // constra_open copies the vtables: they need to sit in C memory only
    // for the call.
    const mem = koffi.alloc(T.StorageT, 1);
    const tmem = hooks ? koffi.alloc(T.TransportT, 1) : null;
    let rc;
    const err = newError();
    const out = [null];
    try {
      koffi.encode(mem, T.StorageT, vt);
      cfg.storage = mem;
      if (tmem) { koffi.encode(tmem, T.TransportT, hooks.vtable); cfg.transport = tmem; }
      rc = C.open(out, cfg, err);
    } finally {
      koffi.free(mem);
      if (tmem) koffi.free(tmem);
    }
    if (rc !== 0) {
      if (owned && vt.destroy) koffi.call(vt.destroy, native.protos.DestroyFn, vt.user_data);
      // What a JS storage threw while the handle opened (the workspace
      // metadata is read and written then) is the error's cause.
      const cause = adapter ? adapter.takeException() : null;
      if (adapter) adapter.release();
      if (hooks) hooks.release();
      throw fromError(rc, err, cause === null ? undefined : cause);
    }
    this._state = { handle: out[0], adapter, transportAdapter: hooks };
    this.webhookSecret = null;
    finalizer.register(this, this._state, this);
  }

  /**
   * A client whose calls go to a Constra HTTP API (a hosted one, or
   * `constra serve`) instead of an engine in this process: a RemoteClient,
   * the same methods returning Promises (worker threads make the calls;
   * `concurrency` of them, default 4), the server's JSON, the server's
   * errors (code, httpStatus, param) as rejections; client.sync.* blocks.
   * `baseUrl` up to the resource paths ('http://127.0.0.1:8000/v1');
   * `secretKey` 'cs_test_...' or 'cs_live_...' (`mode` defaults to the
   * key's); `transport` null for the library's libcurl transport (in a
   * build without it, a ConstraError with status -9 and param
   * 'config.transport') or a JS transport {send(request)}. Other options as constra_remote_config (0
   * = default). tick() does nothing on a remote client (the server drives
   * its own time); handleMpesaCallback() throws (code 'remote_handle').
   */
  static remote(options = {}) {
    if (options === null || typeof options !== 'object') throw wrongType('options', 'an object', options);
    const cfg = initStruct(C.remote_config_init, T.RemoteConfigT);
    cfg.base_url = cstr(options.baseUrl, 'baseUrl', { required: true });
    cfg.secret_key = cstr(options.secretKey, 'secretKey', { required: true });
    let { mode = null } = options;
    if (mode === null) mode = cfg.secret_key.startsWith('cs_live_') ? 'live' : 'sandbox';
    return Client._openRemote(cfg, { ...options, mode });
  }

  /**
   * A remote client configured by the Constra environment variables
   * (constra_remote_config_from_env): CONSTRA_API_BASE_URL and
   * CONSTRA_SECRET_KEY (required), CONSTRA_ENVIRONMENT, CONSTRA_DEFAULT_PROVIDER,
   * CONSTRA_WEBHOOK_SECRET (then `webhookSecret`). A missing or bad
   * variable throws ConstraError with param = the variable and code
   * 'environment_missing' / 'environment_invalid'. `options` as remote()
   * (transport, maxTries, timeouts...).
   */
  static fromEnv(options = {}) {
    if (options === null || typeof options !== 'object') throw wrongType('options', 'an object', options);
    for (const k of ['baseUrl', 'secretKey', 'mode', 'defaultProvider', 'webhookSecret']) {
      if (k in options) throw invalid(k, `${k} comes from the environment in fromEnv(); use Client.remote() to pass it`);
    }
    const cfg = initStruct(C.remote_config_init, T.RemoteConfigT);
    const err = newError();
    const rc = C.remote_config_from_env(cfg, null, null, err);
    if (rc !== 0) throw fromError(rc, err);
    // koffi copied the strings out of the environment into cfg.
    return Client._openRemote(cfg, {
      ...options, mode: cfg.mode === MODES.live ? 'live' : 'sandbox',
      defaultProvider: cfg.default_provider, webhookSecret: cfg.webhook_secret,
    });
  }

  static _openRemote(cfg, options) {
    for (const k of Object.keys(options)) {
      if (!REMOTE_OPTIONS.has(k)) throw invalid(k, `unknown option ${JSON.stringify(k).slice(0, 80)}`, 'parameter_unknown');
    }
    const { transport = null, defaultProvider = null, webhookSecret = null, concurrency = DEFAULT_CONCURRENCY } = options;
    const workers = Number(cint(concurrency, 'concurrency', 1n, 64n));
    let { mode } = options;
    if (typeof mode !== 'string') throw wrongType('mode', 'a string', mode);
    if (Object.hasOwn(MODE_ALIASES, mode)) mode = MODE_ALIASES[mode];
    if (!(mode in MODES)) throw invalid('mode', "mode must be 'sandbox', 'live' or 'production' (live)");
    cfg.mode = MODES[mode];
    cfg.default_provider = cstr(defaultProvider, 'defaultProvider');
    cfg.webhook_secret = cstr(webhookSecret, 'webhookSecret');
    for (const [js, c] of Object.entries(REMOTE_INTS)) cfg[c] = Number(cint(options[js] ?? 0, js, 0n, 2147483647n));
    for (const [js, c] of Object.entries(REMOTE_INT64S)) cfg[c] = cint(options[js] ?? 0, js, 0n, INT64_MAX);
    // What the Promise API's worker opens its own handle with (lib/promises.js).
    const spec = { baseUrl: cfg.base_url, secretKey: cfg.secret_key, mode, defaultProvider, webhookSecret };
    for (const js of [...Object.keys(REMOTE_INTS), ...Object.keys(REMOTE_INT64S)]) {
      if (options[js] !== undefined) spec[js] = options[js];
    }
    const adapter = transport === null || transport === undefined ? null : new TransportAdapter(transport);
    // constra_open_remote copies the transport vtable: it sits in C memory
    // for the call only; its callbacks live in the adapter until close().
    const mem = adapter ? koffi.alloc(T.TransportT, 1) : null;
    const err = newError();
    const out = [null];
    let rc;
    try {
      if (mem) { koffi.encode(mem, T.TransportT, adapter.vtable); cfg.transport = mem; }
      rc = C.open_remote(out, cfg, err);
    } finally {
      if (mem) koffi.free(mem);
    }
    if (rc !== 0) {
      // Not destroyed by the library (client.h): the JS transport stays the caller's.
      if (adapter) adapter.release();
      throw fromError(rc, err);
    }
    const self = Object.create(RemoteClient.prototype);
    self._state = { handle: out[0], adapter: null, transportAdapter: adapter, promises: null };
    // The finalizer's held state must not reach the client (it would
    // never be collected): the pool sees the client through a WeakRef,
    // and its api sits on the client, not in the state.
    self._state.promises = remotePromises(self, spec, adapter ? transport : null, workers);
    Object.defineProperty(self, '_api', { value: self._state.promises.api });
    self.webhookSecret = webhookSecret;
    finalizer.register(self, self._state, self);
    return self;
  }

  /**
   * Every method of this client, returning a Promise (`await
   * client.promises.create(...)`): on a local client the synchronous
   * calls, wrapped; on a RemoteClient its methods themselves (worker
   * threads, the event loop keeps running, a transport may use fetch).
   */
  get promises() {
    if (!this._localPromises) Object.defineProperty(this, '_localPromises', { value: localPromises(this) });
    return this._localPromises;
  }

  /**
   * The synchronous calls of this client, on any client: on a local one
   * they are its methods themselves; on a remote one they block this
   * thread until the server answers (a script, a test over an in-process
   * RouterTransport), and need a synchronous transport.
   */
  get sync() {
    if (!this._sync) Object.defineProperty(this, '_sync', { value: syncApi(this) });
    return this._sync;
  }

  /**
   * Every intent matching `params` (as list(); `limit` is the page size),
   * newest first, fetched a page at a time as the loop reaches it:
   * `for await (const pi of client.listAll({ status: 'failed' })) ...`.
   * On a remote client each page is an asynchronous list() (a worker thread).
   */
  async* listAll(params = {}) {
    if (params === null || typeof params !== 'object') throw wrongType('params', 'an object', params);
    refuseUnknown(params, LIST_PARAMS);
    let after = params.startingAfter ?? null;
    for (;;) {
      const page = await this.promises.list({ ...params, startingAfter: after });
      yield* page.data;
      if (!page.has_more || page.data.length === 0) return;
      after = page.data[page.data.length - 1].id;
    }
  }

  /** True for a client made by Client.remote() or Client.fromEnv(). */
  get isRemote() { return C.is_remote(this._h()) === 1; }

  /** Frees the C handle and what it owns. Idempotent. */
  close() {
    finalizer.unregister(this);
    closeState(this._state);
  }

  get closed() { return this._state.handle === null; }

  [Symbol.dispose]() { this.close(); }

  _h() {
    if (this._state.handle === null) {
      throw new ConstraError('the client is closed', { code: 'client_closed', httpStatus: 500, status: -2 });
    }
    return this._state.handle;
  }

  _fail(rc, err) {
    let cause = this._state.adapter ? this._state.adapter.takeException() : null;
    if (cause === null && this._state.transportAdapter) cause = this._state.transportAdapter.takeException();
    return fromError(rc, err, cause === null ? undefined : cause);
  }

  // Calls a fallible C function with a fresh per-call constra_error
  // appended (error.h: each call reports into its own err, so callers
  // sharing one handle never see each other's errors).
  _call(fn, ...args) {
    const err = newError();
    const rc = fn(...args, err);
    if (rc !== 0) throw this._fail(rc, err);
  }

  // As _call for the functions that answer with a constra_intent.
  _intent(fn, ...args) {
    const out = [null];
    this._call(fn, ...args, out);
    const ptr = out[0];
    try {
      const intent = JSON.parse(C.intent_json(ptr, null));
      Object.defineProperty(intent, 'replayed', { value: C.intent_replayed(ptr) === 1, enumerable: false });
      return intent;
    } finally {
      C.intent_free(ptr);
    }
  }

  _id(id) { return cstr(id, 'id', { required: true }); }

  /**
   * Creates a payment intent and (unless draft) sends the STK push.
   * `params`: {amount, currency = 'KES', phoneNumber | customer: {name,
   * phone_number}, customerName, reference, description, agentPolicy,
   * draft, provider, metadata}. `metadata`: your own string keys and
   * values (at most 50 keys of up to 40 characters, values of up to 500),
   * stored, returned and echoed in every event and webhook; an empty value
   * is left out. The same idempotencyKey with the same parameters
   * returns the first result again (`.replayed` is true).
   */
  create(params, options = {}) {
    if (params === null || typeof params !== 'object') throw wrongType('params', 'an object', params);
    refuseUnknown(params, CREATE_PARAMS);
    if (options === null || typeof options !== 'object') throw wrongType('options', 'an object', options);
    refuseUnknown(options, CREATE_OPTIONS);
    const { idempotencyKey } = options;
    let { amount, currency = 'KES', phoneNumber = null, customerName = null, reference = null,
      description = null, agentPolicy = 'operator_review', draft = false, provider = null, customer,
      metadata = null } = params;
    if (customer !== undefined && customer !== null) {
      if (typeof customer !== 'object') throw wrongType('customer', 'an object', customer);
      for (const k of Object.keys(customer)) {
        if (k !== 'name' && k !== 'phone_number' && k !== 'phoneNumber') {
          throw invalid(`customer.${k}`, 'unknown customer field', 'parameter_unknown');
        }
      }
      customerName = customer.name ?? customerName;
      phoneNumber = customer.phone_number ?? customer.phoneNumber ?? phoneNumber;
    }
    const p = initStruct(C.intent_params_init, T.IntentParamsT);
    p.amount = cint(amount, 'amount', INT64_MIN, INT64_MAX);
    p.currency = cstr(currency, 'currency', { required: true });
    p.provider = cstr(provider, 'provider');
    p.phone_number = cstr(phoneNumber, 'customer.phone_number', { required: true });
    p.customer_name = cstr(customerName, 'customer.name');
    p.reference = cstr(reference, 'reference');
    p.description = cstr(description, 'description');
    p.metadata = cstr(metadataText(metadata), 'metadata');
    if (typeof agentPolicy !== 'string') throw wrongType('agentPolicy', 'a string', agentPolicy);
    if (!(agentPolicy in AGENT_POLICIES)) throw invalid('agent_policy', `agent_policy must be one of ${Object.keys(AGENT_POLICIES).join(', ')}`);
    p.agent_policy = AGENT_POLICIES[agentPolicy];
    if (typeof draft !== 'boolean') throw wrongType('draft', 'a boolean', draft);
    p.draft = draft ? 1 : 0;
    const key = cstr(idempotencyKey, 'idempotency_key', { required: true });
    return this._intent(C.intent_create, this._h(), p, key);
  }

  /** The intent with this id (ConstraError resource_missing, 404, if none). */
  get(id) { return this._intent(C.intent_get, this._h(), this._id(id)); }

  /** As get(), but a pending intent is first settled from the rail (an STK query now). */
  refresh(id) { return this._intent(C.intent_refresh, this._h(), this._id(id)); }

  /** Sends a draft to the rail. */
  confirm(id) { return this._intent(C.intent_confirm, this._h(), this._id(id)); }

  /** Operator-approved new attempt of a requires_recovery intent. */
  retry(id) { return this._intent(C.intent_retry, this._h(), this._id(id)); }

  /** Cancels an intent that is not terminal. */
  cancel(id) { return this._intent(C.intent_cancel, this._h(), this._id(id)); }

  /** Settles a review_required intent: outcome 'succeeded' (with receipt) or 'failed'. */
  resolve(id, outcome, { receipt = null, note = null } = {}) {
    if (typeof outcome !== 'string') throw wrongType('outcome', 'a string', outcome);
    if (outcome !== 'succeeded' && outcome !== 'failed') throw invalid('outcome', "outcome must be 'succeeded' or 'failed'");
    return this._intent(C.intent_resolve, this._h(), this._id(id), outcome === 'succeeded' ? 1 : 0,
      cstr(receipt, 'receipt'), cstr(note, 'note'));
  }

  /** Sandbox: a provider result for the current attempt (0, 1032, ...). */
  simulate(id, resultCode, resultDesc = null) {
    if (typeof resultCode === 'number' && Number.isInteger(resultCode)) resultCode = String(resultCode);
    const code = cstr(resultCode, 'result_code', { required: true });
    return this._intent(C.intent_simulate, this._h(), this._id(id), code, cstr(resultDesc, 'result_desc'));
  }

  /** A page of intents, newest first: {object:'list', data, has_more}. */
  list(params = {}) {
    if (params === null || typeof params !== 'object') throw wrongType('params', 'an object', params);
    refuseUnknown(params, LIST_PARAMS);
    const { status = null, reference = null, createdFromMs = 0, createdToMs = 0, startingAfter = null, limit = 0 } = params;
    const p = initStruct(C.list_params_init, T.ListParamsT);
    if (status !== null && status !== undefined) {
      if (typeof status !== 'string') throw wrongType('status', 'a string', status);
      if (!(status in STATUSES)) throw invalid('status', `unknown status ${JSON.stringify(status).slice(0, 80)}`);
      p.status = STATUSES[status];
    }
    p.reference = cstr(reference, 'reference');
    p.starting_after = cstr(startingAfter, 'starting_after');
    p.created_from_ms = cint(createdFromMs, 'created_from_ms', 0n, INT64_MAX);
    p.created_to_ms = cint(createdToMs, 'created_to_ms', 0n, INT64_MAX);
    p.limit = cint(limit, 'limit', 0n, INT64_MAX);
    const out = [null];
    this._call(C.list_intents, this._h(), p, out);
    try { return JSON.parse(C.intent_list_json(out[0], null)); } finally { C.intent_list_free(out[0]); }
  }

  /** The intent's timeline, oldest first: {object:'list', data}. */
  events(id) {
    const out = [null];
    this._call(C.intent_events, this._h(), this._id(id), out);
    try { return JSON.parse(C.event_list_json(out[0], null)); } finally { C.event_list_free(out[0]); }
  }

  /** Drives time (default: the engine clock). Does nothing on a remote client. */
  tick(nowMs = null) {
    const h = this._h();
    const now = nowMs === null ? C.now_ms(h) : cint(nowMs, 'now_ms', 0n, INT64_MAX);
    this._call(C.tick, h, now);
  }

  /** The engine's wall clock, Unix ms. */
  nowMs() { return Number(C.now_ms(this._h())); }

  /**
   * Applies a Daraja STK callback body exactly as received. `query` is the
   * raw query string of the callback request ('token=...'): the callback
   * is authenticated by it and refused (code 'callback_unauthenticated',
   * 401) without the workspace's callback token. A remote client throws
   * ConstraError code 'remote_handle' (Daraja calls the server).
   */
  handleMpesaCallback(body, { query = null } = {}) {
    const raw = bodyBytes(body);
    const q = query === null || query === undefined ? null : bodyBytes(query);
    this._call(C.handle_mpesa_callback, this._h(), q, q === null ? 0 : q.length, raw, raw.length);
  }

  /**
   * As handleMpesaCallback() without the token check, for a host that
   * authenticated the sender itself (its own secret path, mutual TLS).
   * Passing it requests from the open internet lets anyone record payments.
   */
  handleMpesaCallbackPreauthenticated(body) {
    const raw = bodyBytes(body);
    this._call(C.handle_mpesa_callback_preauthenticated, this._h(), raw, raw.length);
  }

  /**
   * One HTTP-shaped request through the in-process REST router: returns
   * {status, headers: [[name, value]...], body: Buffer, json()}. HTTP
   * errors are answers, not exceptions.
   */
  // ---- webhook endpoints and deliveries (webhook_delivery.h) ----------

  static _endpoint(ep, withSecret) {
    const types = C.wh_endpoint_event_types(ep);
    const out = {
      id: C.wh_endpoint_id(ep), object: 'webhook_endpoint', url: C.wh_endpoint_url(ep),
      enabled_events: types ? types.split(',') : ['*'],
      description: C.wh_endpoint_description(ep) || null,
      scheme: C.wh_endpoint_scheme(ep),
      status: C.wh_endpoint_enabled(ep) ? 'enabled' : 'disabled',
      created_at_ms: Number(C.wh_endpoint_created_at_ms(ep)),
    };
    // REST's name and form for the same time (one vocabulary).
    out.created_at = rfc3339(out.created_at_ms);
    if (withSecret) out.secret = C.wh_endpoint_secret(ep);
    return out;
  }

  _endpointCall(fn, withSecret, ...args) {
    const out = [null];
    this._call(fn, ...args, out);
    try { return Client._endpoint(out[0], withSecret); } finally { C.wh_endpoint_free(out[0]); }
  }

  /**
   * Registers a webhook endpoint (live mode: https and public addresses
   * only). Returns it with its signing `secret` (generated 'whsec_...'
   * unless given): the only time it is returned. `description`: text for
   * people (at most 500 bytes of UTF-8); `scheme`: which signature headers
   * deliveries carry, 'all' (default), 'constra' or 'standard_webhooks'.
   */
  addWebhookEndpoint(url, { enabledEvents = null, secret = null, description = null, scheme = null, ...rest } = {}) {
    refuseUnknown(rest, new Set());
    const p = initStruct(C.wh_params_init, T.WebhookEndpointParamsT);
    p.url = cstr(url, 'url', { required: true });
    if (enabledEvents !== null) {
      if (!Array.isArray(enabledEvents) || !enabledEvents.every((e) => typeof e === 'string')) {
        throw wrongType('enabledEvents', 'an array of strings', enabledEvents);
      }
      p.event_types = cstr(enabledEvents.join(','), 'enabledEvents');
    }
    p.secret = cstr(secret, 'secret');
    p.description = cstr(description, 'description');
    p.scheme = cstr(scheme, 'scheme');
    return this._endpointCall(C.wh_endpoint_add, true, this._h(), p);
  }

  /** One endpoint (without its secret). */
  webhookEndpoint(id) { return this._endpointCall(C.wh_endpoint_get, false, this._h(), this._id(id)); }

  /** Every endpoint, by id (without secrets). */
  webhookEndpoints() {
    const out = [null];
    this._call(C.wh_endpoint_list_get, this._h(), out);
    try {
      const n = Number(C.wh_endpoint_list_count(out[0]));
      const all = [];
      for (let i = 0; i < n; i++) all.push(Client._endpoint(C.wh_endpoint_list_at(out[0], i), false));
      return all;
    } finally {
      C.wh_endpoint_list_free(out[0]);
    }
  }

  enableWebhookEndpoint(id) {
    this._call(C.wh_endpoint_set_enabled, this._h(), this._id(id), 1);
    return Client.prototype.webhookEndpoint.call(this, id); // the synchronous one, on a RemoteClient too
  }

  /** Sends it nothing until enabled (events meanwhile are skipped). */
  disableWebhookEndpoint(id) {
    this._call(C.wh_endpoint_set_enabled, this._h(), this._id(id), 0);
    return Client.prototype.webhookEndpoint.call(this, id);
  }

  deleteWebhookEndpoint(id) { this._call(C.wh_endpoint_remove, this._h(), this._id(id)); }

  /** A new generated secret (returned once); both sign for overlapMs (0: 24 h; at most 7 days). */
  rotateWebhookSecret(id, { overlapMs = 0 } = {}) {
    const ms = cint(overlapMs, 'overlapMs', 0n, INT64_MAX);
    return this._endpointCall(C.wh_endpoint_rotate_secret, true, this._h(), this._id(id), ms);
  }

  /** Queues a webhook.test event to this endpoint only; returns the delivery id. */
  sendTestWebhook(id) {
    const buf = Buffer.alloc(64);
    this._call(C.wh_endpoint_send_test, this._h(), this._id(id), buf, buf.length);
    return buf.subarray(0, buf.indexOf(0)).toString('latin1');
  }

  /**
   * Deliveries, oldest first: {id, endpoint, event, event_type, status,
   * attempt_count, last_http_status, last_error, next_attempt_at_ms,
   * attempts, body (Buffer)}.
   */
  webhookDeliveries({ endpoint = null, status = null, startingAfter = null, limit = 0 } = {}) {
    const out = [null];
    this._call(C.wh_delivery_list_get, this._h(), cstr(endpoint, 'endpoint'), cstr(status, 'status'),
      cstr(startingAfter, 'startingAfter'), Number(cint(limit, 'limit', 0n, 1000n)), out);
    const l = out[0];
    try {
      const rows = [];
      const n = Number(C.wh_delivery_list_count(l));
      for (let i = 0; i < n; i++) {
        const state = C.wh_delivery_state(l, i);
        const len = [0];
        const ptr = C.wh_delivery_body(l, i, len);
        const last = C.wh_delivery_last_status(l, i);
        rows.push({
          id: C.wh_delivery_id(l, i), object: 'webhook_delivery', endpoint: C.wh_delivery_endpoint_id(l, i),
          event: C.wh_delivery_event_id(l, i), event_type: C.wh_delivery_event_type(l, i), status: state,
          attempt_count: C.wh_delivery_attempts(l, i), last_http_status: last || null,
          last_error: C.wh_delivery_last_error(l, i) || null,
          next_attempt_at_ms: state === 'pending' ? Number(C.wh_delivery_next_attempt_at_ms(l, i)) : null,
          next_attempt_at: state === 'pending' ? rfc3339(Number(C.wh_delivery_next_attempt_at_ms(l, i))) : null,
          attempts: JSON.parse(C.wh_delivery_attempts_json(l, i) || '[]'),
          body: native.takeBytes(ptr, len[0]),
        });
      }
      return rows;
    } finally {
      C.wh_delivery_list_free(l);
    }
  }

  /** Queues a failed or delivered delivery again, due now (same id and body). */
  replayWebhookDelivery(id) { this._call(C.wh_delivery_replay, this._h(), this._id(id)); }

  request(method, target, headers = {}, body = null) {
    const req = initStruct(C.api_request_init, T.ApiRequestT);
    req.method = cstr(method, 'method', { required: true });
    req.target = cstr(target, 'target', { required: true });
    const pairs = Array.isArray(headers) ? headers : Object.entries(headers ?? {});
    const hs = pairs.map((pair) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw wrongType('headers', 'an object or [name, value] pairs', pair);
      return { name: cstr(pair[0], 'headers', { required: true }), value: cstr(pair[1], 'headers', { required: true }) };
    });
    req.headers = hs.length ? hs : null;
    req.header_count = hs.length;
    const raw = body === null || body === undefined ? Buffer.alloc(0) : bodyBytes(body);
    req.body = raw.length ? raw : null;
    req.body_len = raw.length;
    const out = [null];
    this._call(C.api_handle, this._h(), req, out);
    const r = out[0];
    try {
      const len = [0];
      const ptr = C.api_response_body(r, len);
      const resBody = takeBytes(ptr, len[0]);
      const resHeaders = [];
      const n = Number(C.api_response_header_count(r));
      for (let i = 0; i < n; i++) resHeaders.push([C.api_response_header_name(r, i), C.api_response_header_value(r, i)]);
      return {
        status: C.api_response_status(r), headers: resHeaders, body: resBody,
        header(name) { const low = name.toLowerCase(); const h = resHeaders.find(([k]) => k.toLowerCase() === low); return h ? h[1] : null; },
        json() { return JSON.parse(resBody.toString('utf8')); },
      };
    } finally {
      C.api_response_free(r);
    }
  }
}

// client.sync: Client's own (synchronous) methods bound to one client,
// whatever its class; a RemoteClient overrides the methods, not these.
function syncApi(client) {
  const api = {};
  for (const m of CLIENT_METHODS) api[m] = (...args) => Client.prototype[m].apply(client, args);
  return Object.freeze(api);
}

/**
 * A client of a Constra HTTP API, made by Client.remote() or
 * Client.fromEnv() (`instanceof Client` holds). Every method returns a
 * Promise: the calls that reach the server run on a worker thread, so the
 * event loop keeps running while a request is on the network (a 2 s
 * answer no longer freezes the process for 2 s), and a JS transport's
 * send() may be async (fetch). Errors reject with the ConstraError the
 * synchronous call throws (code, message, param, httpStatus, status,
 * cause). The blocking forms stay available as `client.sync.*`.
 */
class RemoteClient extends Client {
  // Thrown before super(): no handle is opened for nothing.
  constructor() { throw new TypeError('a RemoteClient is made by Client.remote() or Client.fromEnv()'); }

  /** The same functions as this client's methods (kept for code written against it). */
  get promises() { return this._api; }
}
for (const m of CLIENT_METHODS) {
  Object.defineProperty(RemoteClient.prototype, m, {
    value: { [m](...args) { return this._api[m](...args); } }[m],
    writable: true, configurable: true,
  });
}

// ---- webhooks ---------------------------------------------------------------
/** Unix ms as the REST API writes times: '2026-05-15T13:41:08.123Z'. */
function rfc3339(ms) { return new Date(ms).toISOString(); }

function schemeValue(name) {
  const s = cstr(name, 'scheme', { required: true });
  const out = [0];
  const err = newError();
  const rc = C.webhook_scheme_from_name(s, out, err);
  if (rc !== 0) throw fromError(rc, err);
  return out[0];
}

function headerOf(headers, name) {
  if (headers === null || headers === undefined) return null;
  if (typeof headers !== 'object') throw wrongType('headers', 'an object', headers);
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  return null;
}

function webhookParams(body, secret, scheme) {
  const raw = bodyBytes(body);
  const p = initStruct(C.webhook_params_init, T.WebhookParamsT);
  p.scheme = schemeValue(scheme);
  p.secret = cstr(secret, 'secret', { required: true });
  p.body = raw.length ? raw : null;
  p.body_len = raw.length;
  return p;
}

/**
 * Verifies a webhook delivery over the RAW body (a Buffer as received;
 * a string is encoded as UTF-8). Returns the parsed event when authentic
 * (null for an authentic body that is not JSON, e.g. a test vector); throws
 * ConstraError with code signature_malformed / signature_expired /
 * signature_future / signature_mismatch (or secret_invalid, ...).
 * scheme 't_v1' (signature = "t=...,v1=..."), 'body_hex', or
 * 'standard_webhooks' (msgId, timestamp, signature = the webhook-id,
 * webhook-timestamp, webhook-signature headers, or pass `headers`).
 */
function verifyWebhook(body, { signature = null, secret, scheme = 't_v1', headers = null, msgId = null,
  timestamp = null, now = null, tolerance = 0 } = {}) {
  if (signature === null) signature = headerOf(headers, scheme === 'standard_webhooks' ? 'webhook-signature' : 'constra-signature');
  if (msgId === null) msgId = headerOf(headers, 'webhook-id');
  if (timestamp === null) timestamp = headerOf(headers, 'webhook-timestamp');
  const p = webhookParams(body, secret, scheme);
  p.signature = cstr(signature ?? '', 'signature');
  p.msg_id = cstr(msgId, 'msg_id');
  p.timestamp_header = cstr(timestamp, 'timestamp_header');
  p.now = now === null ? BigInt(Math.floor(Date.now() / 1000)) : cint(now, 'now', 0n, INT64_MAX);
  p.tolerance_s = cint(tolerance, 'tolerance', 0n, INT64_MAX);
  const reason = [0];
  const err = newError();
  const rc = C.webhook_verify(p, reason, err);
  if (rc !== 0) throw fromError(rc, err);
  // Parsed only once authentic: nothing of an unverified body is read.
  try { return JSON.parse(bodyBytes(body).toString('utf8')); } catch { return null; }
}

/** The signature header value for `body` (t_v1, body_hex, standard_webhooks). */
function signWebhook(body, { secret, scheme = 't_v1', timestamp = null, msgId = null } = {}) {
  const p = webhookParams(body, secret, scheme);
  p.msg_id = cstr(msgId, 'msg_id');
  p.timestamp = timestamp === null ? BigInt(Math.floor(Date.now() / 1000)) : cint(timestamp, 'timestamp', 0n, INT64_MAX);
  const out = Buffer.alloc(128);
  const err = newError();
  const rc = C.webhook_sign(p, out, out.length, err);
  if (rc !== 0) throw fromError(rc, err);
  return out.toString('latin1', 0, out.indexOf(0));
}

// ---- M-Pesa helpers ---------------------------------------------------------
/** What an M-Pesa result code means (unknown codes: known false, review_required). */
function decodeResult(code, { api = 'auto', message = null } = {}) {
  if (typeof code === 'number' && Number.isInteger(code)) code = String(code);
  const c = cstr(code, 'code', { required: true });
  const err = newError();
  const apiOut = [0];
  let rc = C.mpesa_api_parse(cstr(api, 'api', { required: true }), apiOut, err);
  if (rc !== 0) throw fromError(rc, err);
  const info = initStruct(C.result_info_init, T.ResultInfoT);
  rc = C.result_lookup(c, Buffer.byteLength(c), apiOut[0], cstr(message, 'message'), info, err);
  if (rc !== 0) throw fromError(rc, err);
  const out = {
    code: info.code, api: C.mpesa_api_name(info.api), outcome: C.outcome_name(info.outcome),
    known: info.known === 1, retry_allowed: info.retry_allowed === 1, description: info.description || '',
    recovery_note: info.recovery_note || '', recommended_action: info.recommended_action || '',
    message_match: info.message_match || '',
  };
  // The field names of `constra decode --json`, Python and REST above; the
  // camelCase names of earlier releases as non-enumerable aliases.
  for (const [alias, name] of [['retryAllowed', 'retry_allowed'], ['recoveryNote', 'recovery_note'],
    ['recommendedAction', 'recommended_action'], ['messageMatch', 'message_match']]) {
    Object.defineProperty(out, alias, { value: out[name], enumerable: false });
  }
  return out;
}

/** A Kenyan mobile number in any usual form as 2547XXXXXXXX. */
/** Whether the loaded library was built with an optional feature
 *  ('sqlite', 'postgres', 'curl'), or its crypto backend ('crypto=openssl' /
 *  'crypto=mbedtls'); constra_features(). */
function featureEnabled(name) {
  if (typeof name !== 'string') {
    throw new TypeError('name must be a string');
  }
  return native.C.feature_enabled(name) !== 0;
}

function normalizePhone(phone) {
  const s = cstr(phone, 'phone', { required: true });
  const out = Buffer.alloc(16);
  const err = newError();
  const rc = C.msisdn_normalize(s, Buffer.byteLength(s) + 1, out, out.length, err);
  if (rc !== 0) throw fromError(rc, err);
  return out.toString('latin1', 0, out.indexOf(0));
}

const transport = require('./lib/transport');

module.exports = {
  Client, RemoteClient, ConstraError, transport, TransportFailure: transport.TransportFailure,
  RouterTransport: transport.RouterTransport, FetchTransport: transport.FetchTransport, Loopback: transport.Loopback, sendRequest: transport.send, Storage, DictStorage, StorageConflict, StorageNotFound, StorageInvalid,
  verifyWebhook, signWebhook, decodeResult, normalizePhone, featureEnabled, libraryPath: native.libPath,
};
