// A typed program over the binding's declarations (index.d.ts), checked
// by `tsc --noEmit -p test/typed` in test/types.test.js: the whole loop,
// a local client's synchronous calls and their awaitable forms, a remote
// client whose methods answer Promises (and its blocking client.sync.*),
// transports, webhooks. Lines
// marked @ts-expect-error must NOT type-check: the declarations are
// precise, not `any`.
import { DictStorage, Storage, StorageConflict, RecordCommit, RecordScan, ScanRow, StorageEvent, StorageRecord,
  Client, RemoteClient, ClientSync, ClientPromises, FetchTransport, ConstraError, PaymentIntent, IntentEvent, EventList, ListPage, Transport, TransportAnswer,
  TransportRequest, TransportFailure, RouterTransport, verifyWebhook, signWebhook, decodeResult,
  normalizePhone, featureEnabled, Attempt, ProviderResult, WebhookDelivery,
} from '../../index';

function show(pi: PaymentIntent): string {
  const receipt: string | null = pi.receipt;
  const attempts: Attempt[] = pi.attempts;
  const first: Attempt | undefined = attempts[0];
  const code: string | null | undefined = first?.result_code;
  const created: string = pi.created_at;
  const result: ProviderResult | null | undefined = pi.provider_result;
  const replayed: boolean = pi.replayed;
  const note: string | undefined = pi.recovery?.agent_note;
  const meta: Record<string, string> = pi.metadata;
  return `${pi.id} ${pi.status} ${receipt} ${code} ${created} ${result?.code} ${replayed} ${note} ${meta.order}`;
}

async function loop(): Promise<void> {
  const c = new Client({ storage: 'memory' });
  let pi: PaymentIntent = c.create({ amount: 1250, customer: { name: 'Amina N.', phone_number: '0700 000 000' },
    reference: 'order_7429', metadata: { order: '7429' } }, { idempotencyKey: 'order_7429_deposit' });
  pi = c.simulate(pi.id, 1032);
  c.retry(pi.id);
  pi = c.simulate(pi.id, '0');
  show(c.get(pi.id));
  const events: EventList = c.events(pi.id);
  const more: boolean = events.has_more;
  const ev: IntentEvent = events.data[0];
  const intentId: string = ev.data.payment_intent_id;
  const page: ListPage = c.list({ status: 'succeeded', limit: 10 });
  for await (const p of c.listAll({ limit: 2 })) show(p);
  const awaited: PaymentIntent = await c.promises.get(pi.id);
  const same: PaymentIntent = c.sync.get(pi.id);
  void same;
  const deliveries: WebhookDelivery[] = await c.promises.webhookDeliveries({ status: 'failed' });
  c.close();
  void more; void intentId; void page; void awaited; void deliveries;

  // @ts-expect-error: not a status
  c.list({ status: 'paid' });
  // @ts-expect-error: create needs the idempotency key
  c.create({ amount: 1 });
  // @ts-expect-error: metadata values are strings
  c.create({ amount: 1, metadata: { n: 1 } }, { idempotencyKey: 'k' });
}

async function remote(): Promise<void> {
  // An async transport over fetch: allowed for a remote client's methods.
  const viaFetch: Transport = {
    name: 'fetch',
    async send(req: TransportRequest): Promise<TransportAnswer> {
      try {
        const r = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body.length ? req.body : undefined });
        return { status: r.status, headers: [...r.headers], body: Buffer.from(await r.arrayBuffer()) };
      } catch (e) {
        throw new TransportFailure('connect', String(e));
      }
    },
  };
  const r: RemoteClient = Client.remote({ baseUrl: 'http://127.0.0.1:8000/v1', secretKey: 'cs_test_x', transport: viaFetch,
    maxTries: 2, concurrency: 2 });
  try {
    const pi: PaymentIntent = await r.create({ amount: 1250, phoneNumber: '0700000000' }, { idempotencyKey: 'k' });
    show(await r.simulate(pi.id, 0));
    const [got, events, page] = await Promise.all([r.get(pi.id), r.events(pi.id), r.list({ limit: 5 })]);
    show(got);
    const n: number = events.data.length + page.data.length;
    void n;
    show(await r.promises.refresh(pi.id));
    for await (const p of r.listAll({ status: 'failed' })) show(p);
    for await (const p of r.promises.listAll({ status: 'failed' })) show(p);
    const hooks = await r.webhookEndpoints();
    const url: string | undefined = hooks[0]?.url;
    void url;
    await r.tick();
    const asPromises: ClientPromises = r;
    void asPromises;
  } catch (e) {
    if (e instanceof ConstraError) {
      const status: number = e.httpStatus;
      const code: string = e.code;
      const param: string | null = e.param;
      void status; void code; void param;
    }
  } finally {
    r.close();
  }
  const local = new Client();
  const blocking = Client.remote({ baseUrl: 'http://x/v1', secretKey: 'cs_live_x', mode: 'production',
    transport: new RouterTransport(local) });
  // The blocking forms, over a synchronous transport.
  const now: PaymentIntent = blocking.sync.get('pi_x');
  const forms: ClientSync = blocking.sync;
  void now; void forms;
  blocking.close();
  const env = Client.fromEnv({ timeoutMs: 5000, transport: new FetchTransport() });
  const envPi: PaymentIntent = await env.get('pi_x');
  void envPi;
  env.close();
  // @ts-expect-error: the Promise API answers promises, not intents
  const notYet: PaymentIntent = r.promises.get('pi_x');
  // @ts-expect-error: a remote client's get() answers a Promise too
  const notYetEither: PaymentIntent = r.get('pi_x');
  // @ts-expect-error: a remote client is not a Client to TypeScript (its methods are async)
  const asLocal: Client = r;
  // @ts-expect-error: a RemoteClient is made by Client.remote() / fromEnv()
  new RemoteClient();
  // @ts-expect-error: concurrency is a number
  Client.remote({ baseUrl: 'http://x/v1', secretKey: 'cs_test_x', concurrency: 'many' });
  void notYet; void notYetEither; void asLocal;
}

function webhook(raw: Buffer, headers: Record<string, string>): void {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const event = verifyWebhook(raw, { secret, headers });
  if (event !== null) {
    const type: string = event.type;
    const status = event.data.status;
    void type; void status;
  }
  const sig: string = signWebhook(raw, { secret, scheme: 'standard_webhooks', msgId: 'msg_1' });
  const info = decodeResult(1032);
  const retry: boolean = info.retry_allowed;
  const phone: string = normalizePhone('0712 345 678');
  const curl: boolean = featureEnabled('curl');
  void sig; void retry; void phone; void curl;
}

// A JS storage: the record store of storage.h, from the base class.
class Counting extends Storage {
  inner = new DictStorage();
  commits = 0;
  commit(commit: RecordCommit): void {
    this.commits++;
    for (const op of commit.ops) if (op.type === 'put' && op.record.keys.length > 16) throw new StorageConflict('too many', 0);
    this.inner.commit(commit);
  }
  get(kind: string, id: string, nowMs: number): StorageRecord | null { return this.inner.get(kind, id, nowMs); }
  scan(scan: RecordScan): Iterable<ScanRow> { return this.inner.scan(scan); }
  events(stream: string | null, after: number, limit: number): Iterable<StorageEvent> { return this.inner.events(stream, after, limit); }
  purge(nowMs: number, max: number): number { return this.inner.purge(nowMs, max); }
}

function storages(): void {
  const c = new Client({ storage: new Counting() });
  c.close();
  const d = new DictStorage();
  d.commit({ nowMs: 0, events: [], ops: [{ type: 'put', expectedVersion: 0,
    record: { kind: 'thing', id: 't1', version: 0, expiresAtMs: 0, document: Buffer.from('{}'), keys: [{ index: 'k', value: 'v', unique: true }] } }] });
  const rows: ScanRow[] = d.scan({ kind: 'thing', index: 'k', from: null, to: null, prefix: 'v', afterValue: null, afterId: null,
    descending: false, limit: 10, nowMs: 0 });
  const v: number = rows[0].record.version;
  // @ts-expect-error: an op type that does not exist
  d.commit({ nowMs: 0, events: [], ops: [{ type: 'upsert', expectedVersion: 0, record: { kind: 'thing', id: 't1' } }] });
  // @ts-expect-error: documents are Buffers
  const bad: StorageRecord = { kind: 'thing', id: 't', version: 1, expiresAtMs: 0, document: '{}', keys: [] };
  void v; void bad;
}

export { loop, remote, webhook, storages };
