// Type declarations of the constra Node.js binding.

/** A payment intent as the REST API returns it (doc/DESIGN.md section 11). */
export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  /** 'unknown' when a remote server sent a status this library does not know (its string is kept in the JSON). */
  status: IntentStatus;
  amount: number;
  currency: string;
  provider: string;
  reference: string | null;
  description: string | null;
  /** Your own keys and values as given at creation (keys in byte order); {} when none. */
  metadata: Record<string, string>;
  customer: { name: string | null; phone_number: string };
  agent_policy: AgentPolicy;
  provider_action: { type: string; state: string; checkout_request_id: string | null; [k: string]: unknown };
  next_action: 'confirm' | 'wait_for_callback' | 'recover' | 'review' | 'none';
  recovery?: {
    recommended_action: string; retry_allowed: boolean; attempts_used: number; attempts_left: number;
    reason?: string; agent_note: string;
  } | null;
  /** 'sim' or 'daraja' (absent from some servers). */
  rail?: string;
  livemode?: boolean;
  /** The M-Pesa receipt number of a success (null before, or when learnt by an STK query). */
  receipt: string | null;
  /** Every receipt the intent's attempts brought (a late second success included). */
  receipts?: string[];
  /** The provider's last result for the current attempt, or null. */
  provider_result?: ProviderResult | null;
  /** Every STK push sent for this intent, oldest first. */
  attempts: Attempt[];
  /** RFC 3339 UTC times, e.g. '2026-05-15T13:41:08.123Z'. */
  created_at: string;
  updated_at?: string;
  [field: string]: unknown;
  /** True when a create with the same idempotency key returned the first result again (not enumerable). */
  readonly replayed: boolean;
}

export type AgentPolicy = 'operator_review' | 'auto_retry' | 'none';
export type IntentStatus = 'draft' | 'pending_user_action' | 'succeeded' | 'requires_recovery' | 'review_required'
  | 'failed' | 'cancelled' | 'unknown';

export interface ProviderResult { code: string | null; description: string | null; [k: string]: unknown }

/** One STK push of an intent. */
export interface Attempt {
  id: string;
  state: string;
  checkout_request_id: string | null;
  merchant_request_id?: string | null;
  result_code: string | null;
  result_desc: string | null;
  receipt: string | null;
  created_at: string;
  completed_at: string | null;
  [k: string]: unknown;
}

/** One entry of an intent's timeline, and the body of a webhook delivery. */
export interface IntentEvent {
  id: string;
  object?: 'event';
  type: string;
  created_at: string;
  data: {
    payment_intent_id: string;
    status: IntentStatus;
    amount?: number;
    currency?: string;
    provider?: string;
    attempt_id?: string | null;
    checkout_request_id?: string | null;
    provider_result_code?: string | null;
    provider_result_desc?: string | null;
    receipt?: string | null;
    receipts?: string[];
    reason?: string | null;
    agent_note?: string | null;
    metadata?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface ListPage { object: 'list'; data: PaymentIntent[]; has_more: boolean }
export interface EventList { object: 'list'; data: IntentEvent[]; has_more: boolean }

/** A libconstra failure. */
export class ConstraError extends Error {
  /** Machine-readable code: "idempotency_key_reused", "parameter_invalid", "signature_mismatch", ... */
  readonly code: string;
  /** The HTTP status the REST API answers for it. */
  readonly httpStatus: number;
  /** The parameter at fault, or null. */
  readonly param: string | null;
  /** The numeric constra_status (negative). */
  readonly status: number;
  /** For a storage/transport error: what the JS implementation threw. */
  readonly cause?: unknown;
  toJSON(): { error: { code: string; message: string; param: string | null } };
}

/** One secondary index entry of a record (storage.h constra_record_key). */
export interface RecordKey {
  /** 1-32 bytes of [a-z0-9_]. */
  index: string;
  /** 0-255 UTF-8 bytes, no NUL; values order as bytes (Buffer.compare), a prefix first. */
  value: string;
  /** No other live record of the kind may hold this (index, value). */
  unique: boolean;
}
/** A record as written and as read (constra_record). */
export interface StorageRecord {
  /** 1-32 bytes of [a-z0-9_]: "intent", "idempotency", "meta", ... */
  kind: string;
  /** 1-255 bytes. */
  id: string;
  /** Read: the stored version (1 when inserted, +1 per write). Write: ignored. */
  version: number;
  /** 0: never; from that instant on the record is dead (invisible, replaceable, purgeable). */
  expiresAtMs: number;
  /** Opaque bytes, stored and returned exactly. */
  document: Buffer;
  /** At most 16 entries. */
  keys: RecordKey[];
}
/** The (kind, id) of a delete or an assert. */
export interface RecordRef { kind: string; id: string }
/** One operation of a commit (constra_record_op). */
export type RecordOp =
  /** Insert (expectedVersion 0) or replace (the stored live version); its keys replace the old ones. */
  | { type: 'put'; record: StorageRecord; expectedVersion: number }
  /** Delete the live record of version expectedVersion (>= 1). */
  | { type: 'delete'; record: RecordRef; expectedVersion: number }
  /** Write nothing; fail unless the live version is expectedVersion (0: absent). */
  | { type: 'assert'; record: RecordRef; expectedVersion: number };
/** An event (constra_record_event). */
export interface StorageEvent {
  /** Read: assigned by the store, strictly increasing across the store. Write: ignored (0). */
  sequence: number;
  /** The record it is about (an intent id), "" for none. */
  stream: string;
  /** Unique in the store ("evt_..."). */
  id: string;
  type: string;
  createdAtMs: number;
  /** 0: kept; otherwise purge() may drop it from then on. */
  expiresAtMs: number;
  document: Buffer;
}
/** One atomic write (constra_record_commit): every op and event, or none. */
export interface RecordCommit {
  /** Records with 0 < expiresAtMs <= nowMs are dead for this commit. */
  nowMs: number;
  ops: RecordOp[];
  events: StorageEvent[];
}
/** An ordered scan over one index of one kind (constra_record_scan). */
export interface RecordScan {
  kind: string;
  /** The index, or "" for the records' ids. */
  index: string;
  /** Inclusive lower bound, or null. */
  from: string | null;
  /** Exclusive upper bound, or null. */
  to: string | null;
  /** Only values that start with these bytes, or null. */
  prefix: string | null;
  /** Cursor: strictly after (afterValue, afterId) in scan order; both null: from the start. */
  afterValue: string | null;
  afterId: string | null;
  /** Largest value first, ties by id descending. */
  descending: boolean;
  /** At most this many rows (>= 1). */
  limit: number;
  /** Dead records are skipped. */
  nowMs: number;
}
/** One scan row: the index value it was found by (its id on the "" index) and the record. */
export interface ScanRow { value: string; record: StorageRecord }

/**
 * A storage implemented in JavaScript: the generic record store of
 * include/constra/storage.h. Throw StorageConflict (with failedOp) for a
 * version mismatch or a taken unique key, StorageNotFound for a missing
 * record, StorageInvalid for a malformed request; anything else is a
 * storage failure (CONSTRA_E_STORAGE, the ConstraError's cause). A failing
 * call leaves the store as it was. Methods run synchronously on the
 * calling JS thread.
 */
export interface StorageLike {
  commit(commit: RecordCommit): void;
  /** The live record, or null (or throw StorageNotFound). */
  get(kind: string, id: string, nowMs: number): StorageRecord | null;
  /** Live records by one index in order, one row per matching entry, at most scan.limit. */
  scan(scan: RecordScan): Iterable<ScanRow>;
  /** Events with sequence > afterSequence in order, at most limit: of one stream, or of all when stream is null. */
  events(stream: string | null, afterSequence: number, limit: number): Iterable<StorageEvent>;
  /** Deletes at most max dead records and at most max expired events; returns how many in all. */
  purge(nowMs: number, max: number): number;
  /** Called once when the last handle using it closes. */
  close?(): void;
}

/** The base class of a JS storage: every method throws until overridden. */
export class Storage implements StorageLike {
  commit(commit: RecordCommit): void;
  get(kind: string, id: string, nowMs: number): StorageRecord | null;
  scan(scan: RecordScan): Iterable<ScanRow>;
  events(stream: string | null, afterSequence: number, limit: number): Iterable<StorageEvent>;
  purge(nowMs: number, max: number): number;
  close?(): void;
}

export class StorageConflict extends Error {
  constructor(message?: string, failedOp?: number);
  /** The index of the operation that conflicted; ops.length for an event id already stored. */
  readonly failedOp?: number;
}
export class StorageNotFound extends Error {}
/** A request outside the contract (bad kind, too many keys, ...): CONSTRA_E_INVALID_ARGUMENT. */
export class StorageInvalid extends Error {
  constructor(message?: string, param?: string);
  readonly param?: string;
}

/** The record store in JS arrays, with the C memory storage's semantics (lib/storage/record_memory.c). */
export class DictStorage extends Storage {
  /** Drops every record and event (sequences start over). */
  clear(): void;
  /** Every stored record (dead ones too) and event, copied: for tests and debugging. */
  dump(): { records: StorageRecord[]; events: StorageEvent[] };
  commit(commit: RecordCommit): void;
  get(kind: string, id: string, nowMs: number): StorageRecord | null;
  scan(scan: RecordScan): ScanRow[];
  events(stream: string | null, afterSequence: number, limit: number): StorageEvent[];
  purge(nowMs: number, max: number): number;
}

export interface ClientOptions {
  /** 'memory' (default), 'sqlite:/path/to.db', or a JS storage (a Storage subclass or any object with its five methods). */
  storage?: 'memory' | `sqlite:${string}` | StorageLike;
  /** The workspace key the REST router requires as bearer token (cs_test_... in sandbox). */
  secretKey?: string | null;
  mode?: 'sandbox' | 'live';
  callbackTimeoutMs?: number | bigint;
  maxAttempts?: number;
  idempotencyRetentionMs?: number | bigint;
  amountMax?: number | bigint;
  /** A transport the engine POSTs webhook deliveries through on each tick (null: they queue unsent). */
  webhookTransport?: Transport | null;
}

/** Tuning shared by Client.remote() and Client.fromEnv() (0 = the library's default). */
export interface RemoteTuning {
  /** null/undefined: the library's libcurl transport; or a transport written in JS. */
  transport?: Transport | null;
  /** Tries per call, 1 to 10 (0 = 3). */
  maxTries?: number;
  backoffBaseMs?: number | bigint;
  backoffMaxMs?: number | bigint;
  connectTimeoutMs?: number | bigint;
  timeoutMs?: number | bigint;
  maxResponseBytes?: number | bigint;
  /** The server's max_attempts, for intents without a recovery summary (0 = 3). */
  maxAttempts?: number;
  /**
   * Worker threads the client's calls run on, 1 to 64 (default 4): calls
   * awaited together go out together up to this many; 1 runs them one at a
   * time in arrival order.
   */
  concurrency?: number;
}

export interface RemoteOptions extends RemoteTuning {
  /** The API's base URL up to the resource paths, e.g. 'http://127.0.0.1:8000/v1'. */
  baseUrl: string;
  /** 'cs_test_...' (sandbox) or 'cs_live_...' (live); never appears in errors. */
  secretKey: string;
  /** Defaults to the key's prefix; must agree with it. */
  mode?: 'sandbox' | 'live' | 'production' | null;
  /** Provider for creates that name none (default 'mpesa'). */
  defaultProvider?: string | null;
  /** Carried for the host's webhook verification (Client.webhookSecret). */
  webhookSecret?: string | null;
}

export interface CreateParams {
  amount: number | bigint;
  currency?: string;
  phoneNumber?: string;
  customerName?: string;
  customer?: { name?: string; phone_number?: string; phoneNumber?: string };
  reference?: string;
  description?: string;
  agentPolicy?: AgentPolicy;
  draft?: boolean;
  provider?: string;
  /** At most 50 keys of up to 40 characters, values of up to 500; an empty value is left out. */
  metadata?: Record<string, string>;
}

export interface RouterResponse {
  status: number;
  headers: Array<[string, string]>;
  body: Buffer;
  header(name: string): string | null;
  json(): any;
}

export type WebhookEndpointScheme = 'all' | 'constra' | 'standard_webhooks';

export interface WebhookEndpointOptions {
  enabledEvents?: string[] | null;
  secret?: string | null;
  /** At most 500 bytes of UTF-8, no control characters. */
  description?: string | null;
  /** 'all' (default), 'constra' or 'standard_webhooks' (needs a whsec_ secret). */
  scheme?: WebhookEndpointScheme | null;
}

export interface WebhookEndpoint {
  id: string;
  object: 'webhook_endpoint';
  url: string;
  enabled_events: string[];
  /** Text for people, null for none. */
  description: string | null;
  /** Which signature headers its deliveries carry. */
  scheme: WebhookEndpointScheme;
  status: 'enabled' | 'disabled';
  created_at_ms: number;
  /** The same time as REST writes it, RFC 3339 UTC. */
  created_at: string;
  /** Only from addWebhookEndpoint() and rotateWebhookSecret(). */
  secret?: string;
}

export interface WebhookDelivery {
  id: string;
  object: 'webhook_delivery';
  endpoint: string;
  event: string;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempt_count: number;
  last_http_status: number | null;
  last_error: string | null;
  next_attempt_at_ms: number | null;
  next_attempt_at: string | null;
  attempts: Array<{ at: string; status: number; error: string | null }>;
  body: Buffer;
}

export interface ListParams {
  status?: PaymentIntent['status']; reference?: string; createdFromMs?: number | bigint;
  createdToMs?: number | bigint; startingAfter?: string; limit?: number;
}

export interface DeliveryListParams {
  endpoint?: string | null; status?: 'pending' | 'delivered' | 'failed' | null;
  startingAfter?: string | null; limit?: number;
}

/**
 * The synchronous calls: a local Client's methods, and `client.sync` of
 * any client. On a remote client they block the thread until the server
 * answers and need a synchronous transport.
 */
export interface ClientSync {
  create(params: CreateParams, options: { idempotencyKey: string }): PaymentIntent;
  get(id: string): PaymentIntent;
  /** As get(), but a pending intent is first settled from the rail (an STK query now). */
  refresh(id: string): PaymentIntent;
  confirm(id: string): PaymentIntent;
  retry(id: string): PaymentIntent;
  cancel(id: string): PaymentIntent;
  resolve(id: string, outcome: 'succeeded' | 'failed', options?: { receipt?: string; note?: string }): PaymentIntent;
  simulate(id: string, resultCode: number | string, resultDesc?: string | null): PaymentIntent;
  /** Unknown parameters are refused (parameter_unknown), as REST refuses them. */
  list(params?: ListParams): ListPage;
  events(id: string): EventList;
  /** Drives time; does nothing on a remote client (the server drives its own). */
  tick(nowMs?: number | bigint | null): void;
  nowMs(): number;
  /** Throws ConstraError code 'remote_handle' on a remote client. */
  handleMpesaCallback(body: Buffer | Uint8Array | string, options?: { query?: string | Buffer | null }): void;
  handleMpesaCallbackPreauthenticated(body: Buffer | Uint8Array | string): void;
  request(method: string, target: string, headers?: Record<string, string> | Array<[string, string]>,
    body?: Buffer | Uint8Array | string | null): RouterResponse;
  /** Registers a webhook endpoint; the result carries its secret (only here). */
  addWebhookEndpoint(url: string, options?: WebhookEndpointOptions): WebhookEndpoint;
  webhookEndpoint(id: string): WebhookEndpoint;
  webhookEndpoints(): WebhookEndpoint[];
  enableWebhookEndpoint(id: string): WebhookEndpoint;
  disableWebhookEndpoint(id: string): WebhookEndpoint;
  deleteWebhookEndpoint(id: string): void;
  /** A new secret (returned once); both sign deliveries for overlapMs (0: 24 h; at most 7 days). */
  rotateWebhookSecret(id: string, options?: { overlapMs?: number | bigint }): WebhookEndpoint;
  /** Queues a webhook.test event to this endpoint only; returns the delivery id. */
  sendTestWebhook(id: string): string;
  webhookDeliveries(options?: DeliveryListParams): WebhookDelivery[];
  replayWebhookDelivery(id: string): void;
}

/** Each method of T, returning a Promise of what it returns. */
type Promised<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;
};

/**
 * Every method of a client, returning a Promise: the methods of a
 * RemoteClient, and `client.promises` of any client. On a remote client
 * the calls run on worker threads (the event loop keeps running; a JS
 * transport may be async, e.g. over fetch); on a local one they are the
 * synchronous calls, wrapped.
 */
export interface ClientPromises extends Promised<ClientSync> {
  listAll(params?: ListParams): AsyncGenerator<PaymentIntent, void, undefined>;
}

/**
 * The payment-intent engine in this process: its calls are short and
 * synchronous (like better-sqlite3), with awaitable forms in `promises`.
 * Client.remote() and Client.fromEnv() make a RemoteClient instead, whose
 * methods return Promises. close() it when done.
 */
export class Client {
  constructor(options?: ClientOptions);
  /** The same calls, returning Promises (see ClientPromises). */
  readonly promises: ClientPromises;
  /** The same calls (this client's methods themselves). */
  readonly sync: ClientSync;
  /** Every intent matching params, newest first, a page (limit) at a time: for await (const pi of c.listAll()). */
  listAll(params?: ListParams): AsyncGenerator<PaymentIntent, void, undefined>;
  /**
   * A client whose calls go over HTTP to a Constra API
   * (include/constra/client.h); its methods return Promises.
   */
  static remote(options: RemoteOptions): RemoteClient;
  /**
   * A remote client from CONSTRA_API_BASE_URL, CONSTRA_SECRET_KEY,
   * CONSTRA_ENVIRONMENT, CONSTRA_DEFAULT_PROVIDER, CONSTRA_WEBHOOK_SECRET;
   * a missing/bad variable throws ConstraError with param = its name.
   */
  static fromEnv(options?: RemoteTuning): RemoteClient;
  /** True for a client made by remote() or fromEnv(). */
  readonly isRemote: boolean;
  /** The webhook secret a remote client was configured with (else null). */
  readonly webhookSecret: string | null;
  readonly closed: boolean;
  close(): void;
  [Symbol.dispose](): void;
}
/** The methods: ClientSync's (synchronous on a local client). */
export interface Client extends ClientSync {}

/**
 * A client of a Constra HTTP API (Client.remote(), Client.fromEnv()). Every
 * method returns a Promise (the ClientPromises below): the calls run on
 * worker threads, so the event loop keeps running while a request is on
 * the network, and a JS transport's send() may be async (fetch). Failures
 * reject with the ConstraError the blocking form throws (code, message,
 * param, httpStatus, status, cause). The blocking forms are `sync`. At
 * run time it is a subclass of Client (`instanceof Client` holds).
 */
export class RemoteClient {
  private constructor();
  /** The same functions as this client's methods. */
  readonly promises: ClientPromises;
  /** The blocking forms: they hold the thread until the server answers (scripts; a synchronous transport only). */
  readonly sync: ClientSync;
  readonly isRemote: boolean;
  /** The webhook secret the client was configured with (else null). */
  readonly webhookSecret: string | null;
  readonly closed: boolean;
  /** Frees the handle, stops its workers (calls in flight still answer) and closes its transport. */
  close(): void;
  [Symbol.dispose](): void;
}
export interface RemoteClient extends ClientPromises {}

export type WebhookScheme = 't_v1' | 'body_hex' | 'standard_webhooks';

/**
 * Verifies a webhook over the raw body; throws ConstraError (signature_*)
 * unless authentic, and returns the parsed event (null for an authentic
 * body that is not JSON). The type parameter is what the caller expects.
 */
export function verifyWebhook<T = IntentEvent>(body: Buffer | Uint8Array | string, options: {
  secret: string; signature?: string | null; scheme?: WebhookScheme;
  headers?: Record<string, string | string[] | undefined> | null;
  msgId?: string | null; timestamp?: string | null; now?: number | bigint | null; tolerance?: number | bigint;
}): T | null;

export function signWebhook(body: Buffer | Uint8Array | string, options: {
  secret: string; scheme?: WebhookScheme; timestamp?: number | bigint | null; msgId?: string | null;
}): string;

export interface ResultInfo {
  code: string; api: string; outcome: string; known: boolean; retry_allowed: boolean; description: string;
  recovery_note: string; recommended_action: string; message_match: string;
  /** @deprecated the camelCase names of earlier releases (not enumerable): use the snake_case fields. */
  readonly retryAllowed: boolean; readonly recoveryNote: string; readonly recommendedAction: string; readonly messageMatch: string;
}
export function decodeResult(code: number | string, options?: { api?: 'auto' | 'stk' | 'b2c' | 'c2b' | 'sync'; message?: string | null }): ResultInfo;
export function normalizePhone(phone: string): string;
/** Whether the loaded library was built with an optional feature ('sqlite', 'postgres', 'curl'), or its crypto backend ('crypto=openssl' / 'crypto=mbedtls'). */
export function featureEnabled(name: string): boolean;
export const libraryPath: string;

// ---- transports (include/constra/transport.h) ----------------------------

export type TransportFailureKind = 'connect' | 'tls' | 'timeout' | 'too_large' | 'protocol' | 'other';

/** Thrown by a JS transport: 'connect'/'tls' = never sent; the rest = outcome unknown. */
export class TransportFailure extends Error {
  constructor(kind: TransportFailureKind, message?: string);
  readonly kind: TransportFailureKind;
}

export interface TransportRequest {
  method: string; url: string; headers: Array<[string, string]>; body: Buffer;
  connectTimeoutMs: number; timeoutMs: number; maxResponseBytes: number;
}

export interface TransportAnswer {
  status: number; headers?: Array<[string, string]>; body?: Buffer | Uint8Array | string | null;
}

/**
 * A transport implemented in JavaScript. send() may return a Promise (an
 * async transport, e.g. over fetch) for the methods of a RemoteClient; the
 * blocking forms (client.sync.*, sendRequest) need a synchronous send().
 */
export interface Transport {
  name?: string;
  send(request: TransportRequest): TransportAnswer | Promise<TransportAnswer>;
  close?(): void;
}

/** Sends every request into a Client's in-process REST router. */
export class RouterTransport implements Transport {
  constructor(client: Client);
  readonly requests: number;
  send(request: TransportRequest): TransportAnswer;
}

/**
 * A transport on fetch(): async, for the methods of a RemoteClient
 * (Client.remote({ transport: new FetchTransport() }) then await client.get(...)).
 * A refused connection is a 'connect' failure, the request's time-out 'timeout'.
 */
export class FetchTransport implements Transport {
  constructor(options?: { fetch?: typeof fetch });
  readonly name: 'fetch';
  send(request: TransportRequest): Promise<TransportAnswer>;
}

/** The C loopback table with the REST router mounted at origins. */
export class Loopback {
  constructor();
  mountRouter(origin: string, client: Client): void;
  readonly requestCount: number;
  close(): void;
}

/** A ConstraError from sendRequest: status -14 (notSent) or -15 (outcomeUnknown). */
export interface TransportError extends ConstraError { readonly notSent: boolean; readonly outcomeUnknown: boolean }

/** One exchange through constra_transport_send (checked request, capped response). */
export function sendRequest(transport: Transport | Loopback, method: string, url: string,
  headers?: Record<string, string> | Array<[string, string]>, body?: Buffer | Uint8Array | string | null,
  options?: { timeoutMs?: number | bigint; connectTimeoutMs?: number | bigint; maxResponseBytes?: number | bigint }): RouterResponse;
