'use strict';
// The C ABI as koffi sees it: finding libconstra, its structs and
// prototypes. Layouts mirror include/constra/*.h field for field; versioned
// structs get their struct_size from the library's constra_*_init().

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

const NAMES = ['libconstra.so.0', 'libconstra.so'];

// libconstra in a meson build directory of the source tree this file is
// in: walks up and looks in <dir>/build*/lib/.
function buildDirCandidates() {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    let found = [];
    try {
      for (const ent of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (!ent.isDirectory() || !ent.name.startsWith('build')) continue;
        for (const n of NAMES) {
          const cand = path.join(dir, ent.name, 'lib', n);
          if (fs.existsSync(cand)) { found.push(cand); break; }
        }
      }
    } catch { /* unreadable: go on up */ }
    if (found.length || path.dirname(dir) === dir) return found;
  }
}

function load() {
  const explicit = process.env.CONSTRA_LIBRARY;
  if (explicit) {
    // An explicit choice is final: never fall back to another library.
    try { return { lib: koffi.load(explicit), path: explicit }; } catch (e) {
      throw new Error(`CONSTRA_LIBRARY=${explicit} cannot be loaded: ${e.message}`);
    }
  }
  const tried = [];
  for (const name of [...NAMES, ...buildDirCandidates()]) {
    try { return { lib: koffi.load(name), path: name }; } catch (e) { tried.push(`${name}: ${e.message}`); }
  }
  throw new Error('libconstra not found; set CONSTRA_LIBRARY to the path of libconstra.so.0. Tried: ' + tried.join('; '));
}

const { lib, path: libPath } = load();

// ---- structs --------------------------------------------------------------
const ErrorT = koffi.struct('constra_error', {
  struct_size: 'size_t', status: 'int', http_status: 'int',
  code: koffi.array('char', 64), message: koffi.array('char', 256), param: koffi.array('char', 64),
});
const ConfigT = koffi.struct('constra_config', {
  struct_size: 'size_t', platform: 'void *', storage: 'void *', rail: 'void *', mode: 'int',
  callback_timeout_ms: 'int64_t', max_attempts: 'int', idempotency_retention_ms: 'int64_t',
  amount_max: 'int64_t', secret_key: 'const char *', transport: 'void *',
});
const WebhookEndpointParamsT = koffi.struct('constra_webhook_endpoint_params', {
  struct_size: 'size_t', url: 'const char *', secret: 'const char *', event_types: 'const char *',
  description: 'const char *', scheme: 'const char *',
});
const IntentParamsT = koffi.struct('constra_intent_params', {
  struct_size: 'size_t', amount: 'int64_t', currency: 'const char *', provider: 'const char *',
  phone_number: 'const char *', customer_name: 'const char *', reference: 'const char *',
  description: 'const char *', agent_policy: 'int', draft: 'int', metadata: 'const char *',
});
const ListParamsT = koffi.struct('constra_intent_list_params', {
  struct_size: 'size_t', status: 'int', reference: 'const char *', created_from_ms: 'int64_t',
  created_to_ms: 'int64_t', starting_after: 'const char *', limit: 'size_t',
});
const WebhookParamsT = koffi.struct('constra_webhook_params', {
  struct_size: 'size_t', scheme: 'int', secret: 'const char *', body: 'const uint8_t *',
  body_len: 'size_t', signature: 'const char *', msg_id: 'const char *',
  timestamp_header: 'const char *', timestamp: 'int64_t', now: 'int64_t', tolerance_s: 'int64_t',
});
const ResultInfoT = koffi.struct('constra_result_info', {
  struct_size: 'size_t', api: 'int', outcome: 'int', known: 'int', retry_allowed: 'int',
  description: 'const char *', recovery_note: 'const char *', recommended_action: 'const char *',
  message_match: 'const char *', code: koffi.array('char', 65),
});
const SqliteOptionsT = koffi.struct('constra_sqlite_options', {
  struct_size: 'size_t', path: 'const char *', synchronous: 'int', busy_timeout_ms: 'int',
});
const HttpHeaderT = koffi.struct('constra_http_header', { name: 'const char *', value: 'const char *' });
const ApiRequestT = koffi.struct('constra_api_request', {
  struct_size: 'size_t', method: 'const char *', target: 'const char *',
  headers: 'constra_http_header *', header_count: 'size_t', body: 'const uint8_t *', body_len: 'size_t',
});

// storage.h: the generic record store (0.3). Text is NUL-terminated,
// documents are (pointer, length). These declarations are what JS hands
// to C (emitted rows: koffi encodes strings as UTF-8 and a JS array of
// keys as a temporary array); what C hands to JS is read through the raw
// twins below, whose text members are plain pointers, so that bytes which
// are not UTF-8 are noticed instead of silently replaced.
const RecordKeyT = koffi.struct('constra_record_key', {
  index: 'const char *', value: 'const char *', unique: 'int',
});
const RecordT = koffi.struct('constra_record', {
  struct_size: 'size_t', kind: 'const char *', id: 'const char *', version: 'int64_t',
  expires_at_ms: 'int64_t', document: 'const uint8_t *', document_len: 'size_t',
  keys: 'const constra_record_key *', key_count: 'size_t',
});
const RecordOpT = koffi.struct('constra_record_op', {
  type: 'int', record: 'const constra_record *', expected_version: 'int64_t',
});
const RecordEventT = koffi.struct('constra_record_event', {
  struct_size: 'size_t', sequence: 'int64_t', stream: 'const char *', id: 'const char *',
  type: 'const char *', created_at_ms: 'int64_t', expires_at_ms: 'int64_t',
  document: 'const uint8_t *', document_len: 'size_t',
});
const RecordCommitT = koffi.struct('constra_record_commit', {
  struct_size: 'size_t', now_ms: 'int64_t', ops: 'const constra_record_op *', op_count: 'size_t',
  events: 'const constra_record_event *', event_count: 'size_t',
});
const RecordScanT = koffi.struct('constra_record_scan', {
  struct_size: 'size_t', kind: 'const char *', index: 'const char *', from: 'const char *',
  to: 'const char *', prefix: 'const char *', after_value: 'const char *', after_id: 'const char *',
  descending: 'int', limit: 'size_t', now_ms: 'int64_t',
});

// The raw twins: same members, every pointer a `void *` (decoded as an
// address). Checked member for member against the declarations above
// when this file loads, so the layout test covers them too.
function rawTwin(T, name) {
  const members = {};
  for (const [m, info] of Object.entries(koffi.type(T).members)) {
    members[m] = info.type.primitive === 'Pointer' || info.type.primitive === 'String' ? 'void *' : info.type;
  }
  const R = koffi.struct(name, members);
  for (const m of Object.keys(members)) {
    if (koffi.offsetof(R, m) !== koffi.offsetof(T, m)) throw new Error(`${name}.${m}: offset differs from ${koffi.type(T).name}`);
  }
  if (koffi.sizeof(R) !== koffi.sizeof(T)) throw new Error(`${name}: size differs from ${koffi.type(T).name}`);
  return R;
}
const raw = {
  RecordKeyT: rawTwin(RecordKeyT, 'constra_record_key_raw'),
  RecordT: rawTwin(RecordT, 'constra_record_raw'),
  RecordOpT: rawTwin(RecordOpT, 'constra_record_op_raw'),
  RecordEventT: rawTwin(RecordEventT, 'constra_record_event_raw'),
  RecordCommitT: rawTwin(RecordCommitT, 'constra_record_commit_raw'),
  RecordScanT: rawTwin(RecordScanT, 'constra_record_scan_raw'),
};

// Row sinks C passes to get/scan/events (the JS side calls them).
const RecordFn = koffi.proto('int constra_record_fn(void *ctx, const constra_record *record)');
const ScanRowFn = koffi.proto('int constra_record_scan_fn(void *ctx, const char *value, const constra_record *record)');
const EventRowFn = koffi.proto('int constra_record_event_fn(void *ctx, const constra_record_event *event)');
// The vtable's methods (the JS side implements them). Text arrives as
// addresses (read by lib/storage.js), structs as addresses too.
const CommitFn = koffi.proto('int constra_storage_commit_fn(void *ud, void *commit, void *failed_op)');
const GetFn = koffi.proto('int constra_storage_get_fn(void *ud, void *kind, void *id, int64_t now_ms, void *emit, void *ctx)');
const ScanFn = koffi.proto('int constra_storage_scan_fn(void *ud, void *scan, void *emit, void *ctx)');
const EventsFn = koffi.proto('int constra_storage_events_fn(void *ud, void *stream, int64_t after_sequence, size_t limit, void *emit, void *ctx)');
const PurgeFn = koffi.proto('int constra_storage_purge_fn(void *ud, int64_t now_ms, size_t max, void *purged)');
const DestroyFn = koffi.proto('void storage_destroy_fn(void *ud)');

const StorageT = koffi.struct('constra_storage', {
  struct_size: 'size_t', user_data: 'void *', commit: 'void *', get: 'void *', scan: 'void *',
  events: 'void *', purge: 'void *', destroy: 'void *',
});

// transport.h
const TransportRequestT = koffi.struct('constra_transport_request', {
  struct_size: 'size_t', method: 'const char *', url: 'const char *', headers: 'void *',
  header_count: 'size_t', body: 'const uint8_t *', body_len: 'size_t', connect_timeout_ms: 'int64_t',
  timeout_ms: 'int64_t', max_response_bytes: 'size_t',
});
const TransportSendFn = koffi.proto('int transport_send_fn(void *ud, void *request, void *response)');
const TransportT = koffi.struct('constra_transport', {
  struct_size: 'size_t', user_data: 'void *', name: koffi.array('char', 16), send: 'void *', destroy: 'void *',
});

// client.h: the remote backend
const RemoteConfigT = koffi.struct('constra_remote_config', {
  struct_size: 'size_t', platform: 'void *', base_url: 'const char *', secret_key: 'const char *',
  mode: 'int', transport: 'void *', default_provider: 'const char *', webhook_secret: 'const char *',
  max_tries: 'int', backoff_base_ms: 'int64_t', backoff_max_ms: 'int64_t', connect_timeout_ms: 'int64_t',
  timeout_ms: 'int64_t', max_response_bytes: 'size_t', sleep_ms: 'void *', sleep_user_data: 'void *',
  max_attempts: 'int',
});

koffi.opaque('constra_t');
koffi.opaque('constra_intent');
koffi.opaque('constra_intent_list');
koffi.opaque('constra_event_list');
koffi.opaque('constra_api_response');
koffi.opaque('constra_webhook_endpoint');
koffi.opaque('constra_webhook_endpoint_list');
koffi.opaque('constra_webhook_delivery_list');

const f = (proto) => lib.func(proto);
const C = {
  error_init: f('int constra_error_init(_Inout_ constra_error *err, size_t size)'),
  status_http: f('int constra_status_http(int status)'),
  status_name: f('const char *constra_status_name(int status)'),
  feature_enabled: f('int constra_feature_enabled(const char *name)'),
  strerror: f('const char *constra_strerror(int status)'),
  config_init: f('int constra_config_init(_Inout_ constra_config *c, size_t size)'),
  open: f('int constra_open(_Out_ constra_t **out, const constra_config *config, _Inout_ constra_error *err)'),
  close: f('void constra_close(constra_t *h)'),
  now_ms: f('int64_t constra_now_ms(constra_t *h)'),
  intent_params_init: f('int constra_intent_params_init(_Inout_ constra_intent_params *p, size_t size)'),
  intent_create: f('int constra_intent_create(constra_t *h, const constra_intent_params *p, const char *key, _Out_ constra_intent **out, _Inout_ constra_error *err)'),
  intent_get: f('int constra_intent_get(constra_t *h, const char *id, _Out_ constra_intent **out, _Inout_ constra_error *err)'),
  intent_refresh: f('int constra_intent_refresh(constra_t *h, const char *id, _Out_ constra_intent **out, _Inout_ constra_error *err)'),
  intent_confirm: f('int constra_intent_confirm(constra_t *h, const char *id, _Out_ constra_intent **out, _Inout_ constra_error *err)'),
  intent_retry: f('int constra_intent_retry(constra_t *h, const char *id, _Out_ constra_intent **out, _Inout_ constra_error *err)'),
  intent_cancel: f('int constra_intent_cancel(constra_t *h, const char *id, _Out_ constra_intent **out, _Inout_ constra_error *err)'),
  intent_resolve: f('int constra_intent_resolve(constra_t *h, const char *id, int ok, const char *receipt, const char *note, _Out_ constra_intent **out, _Inout_ constra_error *err)'),
  intent_simulate: f('int constra_intent_simulate_callback(constra_t *h, const char *id, const char *code, const char *desc, _Out_ constra_intent **out, _Inout_ constra_error *err)'),
  tick: f('int constra_tick(constra_t *h, int64_t now, _Inout_ constra_error *err)'),
  intent_free: f('void constra_intent_free(constra_intent *i)'),
  intent_replayed: f('int constra_intent_replayed(const constra_intent *i)'),
  intent_json: f('const char *constra_intent_json(const constra_intent *i, void *len)'),
  list_params_init: f('int constra_intent_list_params_init(_Inout_ constra_intent_list_params *p, size_t size)'),
  list_intents: f('int constra_intent_list_get(constra_t *h, const constra_intent_list_params *p, _Out_ constra_intent_list **out, _Inout_ constra_error *err)'),
  intent_list_json: f('const char *constra_intent_list_json(const constra_intent_list *l, void *len)'),
  intent_list_free: f('void constra_intent_list_free(constra_intent_list *l)'),
  intent_events: f('int constra_event_list_get(constra_t *h, const char *id, _Out_ constra_event_list **out, _Inout_ constra_error *err)'),
  event_list_json: f('const char *constra_event_list_json(const constra_event_list *l, void *len)'),
  event_list_free: f('void constra_event_list_free(constra_event_list *l)'),
  handle_mpesa_callback: f('int constra_handle_mpesa_callback(constra_t *h, const uint8_t *query, size_t query_len, const uint8_t *body, size_t len, _Inout_ constra_error *err)'),
  handle_mpesa_callback_preauthenticated: f('int constra_handle_mpesa_callback_preauthenticated(constra_t *h, const uint8_t *body, size_t len, _Inout_ constra_error *err)'),
  storage_init: f('int constra_storage_init(_Inout_ constra_storage *s, size_t size)'),
  record_commit_check: f('int constra_record_commit_check(void *commit, void *err)'),
  storage_memory: f('int constra_storage_memory(_Inout_ constra_storage *s, void *platform, _Inout_ constra_error *err)'),
  sqlite_options_init: f('int constra_sqlite_options_init(_Inout_ constra_sqlite_options *o, size_t size)'),
  storage_sqlite: f('int constra_storage_sqlite(_Inout_ constra_storage *s, void *platform, const constra_sqlite_options *o, _Inout_ constra_error *err)'),
  webhook_params_init: f('int constra_webhook_params_init(_Inout_ constra_webhook_params *p, size_t size)'),
  webhook_verify: f('int constra_webhook_verify(const constra_webhook_params *p, _Out_ int *reason, _Inout_ constra_error *err)'),
  webhook_sign: f('int constra_webhook_sign(const constra_webhook_params *p, _Out_ uint8_t *out, size_t size, _Inout_ constra_error *err)'),
  webhook_scheme_from_name: f('int constra_webhook_scheme_from_name(const char *name, _Out_ int *scheme, _Inout_ constra_error *err)'),
  result_info_init: f('int constra_result_info_init(_Inout_ constra_result_info *i, size_t size)'),
  result_lookup: f('int constra_mpesa_result_lookup(const char *code, size_t len, int api, const char *message, _Inout_ constra_result_info *out, _Inout_ constra_error *err)'),
  outcome_name: f('const char *constra_outcome_name(int outcome)'),
  mpesa_api_name: f('const char *constra_mpesa_api_name(int api)'),
  mpesa_api_parse: f('int constra_mpesa_api_parse(const char *name, _Out_ int *api, _Inout_ constra_error *err)'),
  msisdn_normalize: f('int constra_msisdn_normalize(const char *in, size_t max, _Out_ uint8_t *out, size_t size, _Inout_ constra_error *err)'),
  api_request_init: f('int constra_api_request_init(_Inout_ constra_api_request *r, size_t size)'),
  api_handle: f('int constra_api_handle(constra_t *h, const constra_api_request *r, _Out_ constra_api_response **out, _Inout_ constra_error *err)'),
  api_response_status: f('int constra_api_response_status(const constra_api_response *r)'),
  api_response_body: f('const uint8_t *constra_api_response_body(const constra_api_response *r, _Out_ size_t *len)'),
  api_response_header_count: f('size_t constra_api_response_header_count(const constra_api_response *r)'),
  api_response_header_name: f('const char *constra_api_response_header_name(const constra_api_response *r, size_t i)'),
  api_response_header_value: f('const char *constra_api_response_header_value(const constra_api_response *r, size_t i)'),
  api_response_free: f('void constra_api_response_free(constra_api_response *r)'),
  transport_request_init: f('int constra_transport_request_init(_Inout_ constra_transport_request *r, size_t size)'),
  transport_init: f('int constra_transport_init(_Inout_ constra_transport *t, size_t size)'),
  transport_response_set_status: f('int constra_transport_response_set_status(void *r, int status)'),
  transport_response_add_header: f('int constra_transport_response_add_header(void *r, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)'),
  transport_response_append: f('int constra_transport_response_append(void *r, const uint8_t *data, size_t len)'),
  transport_response_fail: f('int constra_transport_response_fail(void *r, int failure, const char *message)'),
  transport_send: f('int constra_transport_send(const constra_transport *t, void *platform, const constra_transport_request *req, _Out_ void **out, _Inout_ constra_error *err)'),
  transport_response_status: f('int constra_transport_response_status(void *r)'),
  transport_response_body: f('const uint8_t *constra_transport_response_body(void *r, _Out_ size_t *len)'),
  transport_response_header_count: f('size_t constra_transport_response_header_count(void *r)'),
  transport_response_header_name: f('const char *constra_transport_response_header_name(void *r, size_t i)'),
  transport_response_header_value: f('const char *constra_transport_response_header_value(void *r, size_t i)'),
  transport_response_free: f('void constra_transport_response_free(void *r)'),
  loopback_new: f('int constra_loopback_new(_Out_ void **out, void *platform, _Inout_ constra_error *err)'),
  loopback_mount: f('int constra_loopback_mount(void *lb, const char *origin, void *handler, void *ctx, _Inout_ constra_error *err)'),
  loopback_transport: f('int constra_loopback_transport(void *lb, _Inout_ constra_transport *out, _Inout_ constra_error *err)'),
  loopback_request_count: f('uint64_t constra_loopback_request_count(void *lb)'),
  loopback_free: f('void constra_loopback_free(void *lb)'),
  remote_config_init: f('int constra_remote_config_init(_Inout_ constra_remote_config *c, size_t size)'),
  remote_config_from_env: f('int constra_remote_config_from_env(_Inout_ constra_remote_config *c, void *getenv_fn, void *ud, _Inout_ constra_error *err)'),
  open_remote: f('int constra_open_remote(_Out_ constra_t **out, const constra_remote_config *config, _Inout_ constra_error *err)'),
  is_remote: f('int constra_is_remote(constra_t *h)'),
  // webhook_delivery.h
  wh_params_init: f('int constra_webhook_endpoint_params_init(_Inout_ constra_webhook_endpoint_params *p, size_t size)'),
  wh_endpoint_add: f('int constra_webhook_endpoint_add(constra_t *h, const constra_webhook_endpoint_params *p, _Out_ constra_webhook_endpoint **out, _Inout_ constra_error *err)'),
  wh_endpoint_get: f('int constra_webhook_endpoint_get(constra_t *h, const char *id, _Out_ constra_webhook_endpoint **out, _Inout_ constra_error *err)'),
  wh_endpoint_list_get: f('int constra_webhook_endpoint_list_get(constra_t *h, _Out_ constra_webhook_endpoint_list **out, _Inout_ constra_error *err)'),
  wh_endpoint_list_count: f('size_t constra_webhook_endpoint_list_count(constra_webhook_endpoint_list *l)'),
  wh_endpoint_list_at: f('constra_webhook_endpoint *constra_webhook_endpoint_list_at(constra_webhook_endpoint_list *l, size_t i)'),
  wh_endpoint_list_free: f('void constra_webhook_endpoint_list_free(constra_webhook_endpoint_list *l)'),
  wh_endpoint_set_enabled: f('int constra_webhook_endpoint_set_enabled(constra_t *h, const char *id, int enabled, _Inout_ constra_error *err)'),
  wh_endpoint_remove: f('int constra_webhook_endpoint_remove(constra_t *h, const char *id, _Inout_ constra_error *err)'),
  wh_endpoint_rotate_secret: f('int constra_webhook_endpoint_rotate_secret(constra_t *h, const char *id, int64_t overlap_ms, _Out_ constra_webhook_endpoint **out, _Inout_ constra_error *err)'),
  wh_endpoint_send_test: f('int constra_webhook_endpoint_send_test(constra_t *h, const char *id, _Out_ uint8_t *buf, size_t size, _Inout_ constra_error *err)'),
  wh_endpoint_id: f('const char *constra_webhook_endpoint_id(constra_webhook_endpoint *e)'),
  wh_endpoint_url: f('const char *constra_webhook_endpoint_url(constra_webhook_endpoint *e)'),
  wh_endpoint_secret: f('const char *constra_webhook_endpoint_secret(constra_webhook_endpoint *e)'),
  wh_endpoint_event_types: f('const char *constra_webhook_endpoint_event_types(constra_webhook_endpoint *e)'),
  wh_endpoint_enabled: f('int constra_webhook_endpoint_enabled(constra_webhook_endpoint *e)'),
  wh_endpoint_created_at_ms: f('int64_t constra_webhook_endpoint_created_at_ms(constra_webhook_endpoint *e)'),
  wh_endpoint_description: f('const char *constra_webhook_endpoint_description(constra_webhook_endpoint *e)'),
  wh_endpoint_scheme: f('const char *constra_webhook_endpoint_scheme(constra_webhook_endpoint *e)'),
  wh_endpoint_free: f('void constra_webhook_endpoint_free(constra_webhook_endpoint *e)'),
  wh_delivery_list_get: f('int constra_webhook_delivery_list_get(constra_t *h, const char *endpoint, const char *state, const char *after, size_t limit, _Out_ constra_webhook_delivery_list **out, _Inout_ constra_error *err)'),
  wh_delivery_list_count: f('size_t constra_webhook_delivery_list_count(constra_webhook_delivery_list *l)'),
  wh_delivery_id: f('const char *constra_webhook_delivery_id(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_endpoint_id: f('const char *constra_webhook_delivery_endpoint_id(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_event_id: f('const char *constra_webhook_delivery_event_id(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_event_type: f('const char *constra_webhook_delivery_event_type(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_state: f('const char *constra_webhook_delivery_state(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_last_error: f('const char *constra_webhook_delivery_last_error(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_attempts_json: f('const char *constra_webhook_delivery_attempts_json(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_attempts: f('int constra_webhook_delivery_attempts(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_last_status: f('int constra_webhook_delivery_last_status(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_next_attempt_at_ms: f('int64_t constra_webhook_delivery_next_attempt_at_ms(constra_webhook_delivery_list *l, size_t i)'),
  wh_delivery_body: f('const uint8_t *constra_webhook_delivery_body(constra_webhook_delivery_list *l, size_t i, _Out_ size_t *len)'),
  wh_delivery_list_free: f('void constra_webhook_delivery_list_free(constra_webhook_delivery_list *l)'),
  wh_delivery_replay: f('int constra_webhook_delivery_replay(constra_t *h, const char *id, _Inout_ constra_error *err)'),
};
// The router's loopback handler: its address is mounted, never called here.
const apiLoopbackHandler = lib.symbol('constra_api_loopback_handler');

// A struct object initialised by its constra_*_init(ptr, size).
function initStruct(initFn, type) {
  const obj = {};
  const rc = initFn(obj, koffi.sizeof(type));
  if (rc !== 0) throw new Error(`${type.name} init failed (${rc}): ABI mismatch`);
  return obj;
}

function newError() { return initStruct(C.error_init, ErrorT); }

// Copies `len` bytes at a C pointer into a Buffer (empty for NULL / 0).
// With memcpy, not koffi.view()/decode(): those leave native memory behind
// per call (measured: ~200 bytes each), which the memory test catches.
const libc = koffi.load('libc.so.6');
const memcpy = libc.func('void *memcpy(void *dst, const void *src, size_t n)');
const strlen = libc.func('size_t strlen(const void *s)');
function takeBytes(ptr, len) {
  const n = Number(len);
  if (!ptr || n === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(n);
  memcpy(out, ptr, n);
  return out;
}

// The NUL-terminated bytes at a C address as a Buffer (null for NULL).
function takeText(ptr) {
  if (!ptr) return null;
  return takeBytes(ptr, strlen(ptr));
}

module.exports = {
  koffi, lib, libPath, C, initStruct, newError, takeBytes, takeText,
  types: {
    ErrorT, ConfigT, IntentParamsT, ListParamsT, WebhookParamsT, ResultInfoT, SqliteOptionsT,
    HttpHeaderT, ApiRequestT, RecordKeyT, RecordT, RecordOpT, RecordEventT, RecordCommitT,
    RecordScanT, StorageT, TransportRequestT, TransportT, RemoteConfigT, WebhookEndpointParamsT,
  },
  raw,
  apiLoopbackHandler,
  protos: {
    RecordFn, ScanRowFn, EventRowFn, CommitFn, GetFn, ScanFn, EventsFn, PurgeFn, DestroyFn,
    TransportSendFn,
  },
  status: {
    OK: 0, E_INVALID_ARGUMENT: -2, E_NOMEM: -3, E_NOT_FOUND: -4, E_CONFLICT: -5, E_INVALID_STATE: -6,
    E_SIGNATURE: -12, E_STORAGE: -13, E_TRANSPORT: -14, E_OUTCOME_UNKNOWN: -15, E_ABI: -10,
  },
};
