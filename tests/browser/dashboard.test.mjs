// The Constra Workspace dashboard driven in headless Chromium against a
// real `constra serve` on a free loopback port (issue 5, item 4).
//
//   node tests/browser/dashboard.test.mjs [--constra PATH] [--out DIR]
//
// PATH defaults to $CONSTRA_CLI, DIR (screenshots) to
// $CONSTRA_BROWSER_OUT or ./browser-screenshots. Prints TAP (one line per
// check) and exits non-zero on any failure. Missing Chromium or
// node_modules is a failure, not a skip: CI installs both
// (scripts/setup.sh, `npm ci --prefix tests/browser` in scripts/test.sh).
//
// Every wait is on a condition (an element's text or state), with a
// generous time-out, never a fixed sleep: the sanitizer build is slow.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as delay } from 'node:timers/promises';

const CHROMIUM = '/usr/bin/chromium';
const KEY = 'cs_test_browser_dashboard_0001';
const WAIT_MS = 30000;
const INSTRUCTION = 'charge 0712 345 678 KES 1,250 for order 7429 solar kit deposit';

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

const constraBin = argValue('--constra') || process.env.CONSTRA_CLI;
const outDir = path.resolve(argValue('--out') || process.env.CONSTRA_BROWSER_OUT || 'browser-screenshots');

/* ---- TAP ----------------------------------------------------------------- */

let testNo = 0;
let failures = 0;

function diag(text) {
  for (const line of String(text).split('\n')) {
    console.log(`# ${line}`);
  }
}

function ok(name) {
  testNo++;
  console.log(`ok ${testNo} - ${name}`);
}

function notOk(name, err) {
  testNo++;
  failures++;
  console.log(`not ok ${testNo} - ${name}`);
  diag(err && err.stack ? err.stack : String(err));
}

/* A check of the flow: later steps depend on earlier ones, so the first
 * failure stops the flow (the rest would only fail in its wake). */
class Stop extends Error {}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    ok(name);
    diag(`${Date.now() - t0} ms`);
  } catch (err) {
    notOk(name, err);
    throw new Stop(name);
  }
}

function assert(cond, message) {
  if (!cond) {
    throw new Error(message);
  }
}

/* ---- the server ------------------------------------------------------------ */

function startServer() {
  return new Promise((resolve, reject) => {
    const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--db', ':memory:',
      '--secret-key', KEY];
    const child = spawn(constraBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    let out = '';
    let err = '';
    let settled = false;
    const timer = setTimeout(() => {
      if (!settled) {
        settled = true;
        reject(new Error(`no "listening on" line within ${WAIT_MS} ms\nstdout:\n${out}\nstderr:\n${err}`));
      }
    }, WAIT_MS);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/constra serve: listening on (http:\/\/\S+)/);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, exited, base: m[1].replace(/\/$/, ''), output: () => ({ out, err }) });
      }
    });
    child.stderr.on('data', (chunk) => { err += chunk; });
    child.on('error', (e) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(e);
      }
    });
    child.on('exit', (code, signal) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(new Error(`constra serve exited (${code ?? signal}) before listening\nstdout:\n${out}\nstderr:\n${err}`));
      }
    });
  });
}

/* SIGTERM (a graceful stop), SIGKILL after 20 s. Resolves to how it
 * ended: {code, signal, killed}. */
async function stopServer(server) {
  if (!server) {
    return null;
  }
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGTERM');
  }
  const first = await Promise.race([server.exited, delay(20000).then(() => null)]);
  if (first) {
    return { ...first, killed: false };
  }
  server.child.kill('SIGKILL');
  return { ...(await server.exited), killed: true };
}

/* ---- page helpers ---------------------------------------------------------- */

const tid = (id) => `[data-testid="${id}"]`;

/* Waits until the element's text satisfies `want` (a string it must
 * contain, or a RegExp). Returns the text. */
async function waitText(page, testid, want, timeout = WAIT_MS) {
  const spec = want instanceof RegExp ? { re: want.source, flags: want.flags } : { s: String(want) };
  try {
    await page.waitForFunction(([sel, w]) => {
      const el = document.querySelector(sel);
      if (!el || el.closest('[hidden]')) {
        return false;
      }
      const t = el.textContent;
      return w.re !== undefined ? new RegExp(w.re, w.flags).test(t) : t.includes(w.s);
    }, [tid(testid), spec], { timeout, polling: 100 });
  } catch (e) {
    const now = await page.locator(tid(testid)).first().textContent().catch(() => '(absent)');
    throw new Error(`${testid}: waited ${timeout} ms for ${want}, text is ${JSON.stringify(now)}`);
  }
  return page.locator(tid(testid)).first().textContent();
}

async function text(page, testid) {
  return (await page.locator(tid(testid)).first().textContent()).trim();
}

async function counters(page) {
  const out = {};
  for (const k of ['total', 'awaiting', 'paid', 'review']) {
    out[k] = Number(await text(page, `count-${k}`));
  }
  return out;
}

async function waitCounters(page, want) {
  const deadline = Date.now() + WAIT_MS;
  let got;
  for (;;) {
    got = await counters(page);
    if (Object.entries(want).every(([k, v]) => got[k] === v)) {
      return got;
    }
    if (Date.now() > deadline) {
      throw new Error(`counters ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    await page.waitForTimeout(100);
  }
}

async function click(page, testid) {
  const b = page.locator(tid(testid));
  await b.waitFor({ state: 'visible', timeout: WAIT_MS });
  await page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    return el && !el.disabled;
  }, tid(testid), { timeout: WAIT_MS, polling: 100 });
  await b.click({ timeout: WAIT_MS });
}

async function shot(page, name) {
  const file = path.join(outDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  diag(`screenshot ${file}`);
}

/* ---- the run ---------------------------------------------------------------- */

async function main() {
  let chromium;
  await step('Chromium and playwright-core are installed', async () => {
    assert(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh)`);
    try {
      ({ chromium } = await import('playwright-core'));
    } catch (e) {
      throw new Error(`playwright-core is not installed (npm ci --prefix tests/browser): ${e.message}`);
    }
    assert(constraBin && existsSync(constraBin),
      `the constra binary is not given or missing (--constra or CONSTRA_CLI): ${constraBin}`);
    mkdirSync(outDir, { recursive: true });
  });

  let server;
  let context;
  const profile = mkdtempSync(path.join(tmpdir(), 'constra-chromium-'));
  const pageErrors = [];
  const requests = [];
  try {
    await step('constra serve starts on a free loopback port', async () => {
      server = await startServer();
      assert(/^http:\/\/127\.0\.0\.1:\d+$/.test(server.base), `unexpected base ${server.base}`);
      diag(`server ${server.base}`);
    });

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // Containers often have a tiny /dev/shm.
        '--disable-dev-shm-usage'],
      viewport: { width: 1440, height: 1000 },
      timeout: 60000,
    });
    context.setDefaultTimeout(WAIT_MS);
    const page = context.pages()[0] || await context.newPage();
    const watch = (p) => {
      p.on('request', (r) => requests.push({ url: r.url(), auth: r.headers().authorization || '' }));
      p.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
      p.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) {
          pageErrors.push(`CSP: ${m.text()}`);
        }
      });
    };
    watch(page);

    await step('the dashboard loads under its CSP and takes the key from the fragment', async () => {
      const res = await page.goto(`${server.base}/#key=${KEY}`, { waitUntil: 'load' });
      assert(res.status() === 200, `GET / answered ${res.status()}`);
      const csp = res.headers()['content-security-policy'] || '';
      assert(/default-src 'self'/.test(csp), `CSP header is ${JSON.stringify(csp)}`);
      await waitText(page, 'key-status', 'valid');
      const url = page.url();
      assert(!url.includes(KEY), `the key is still in the address: ${url}`);
      const stored = await page.evaluate(() => sessionStorage.getItem('constra.workspace_key'));
      assert(stored === KEY, 'the key is not in sessionStorage');
      assert((await page.title()) === 'Constra Workspace', 'title');
    });

    await step('workspace health and the M-Pesa rail configuration are shown', async () => {
      await waitText(page, 'health-api', 'v1');
      await waitText(page, 'health-rail', 'sim');
      await waitText(page, 'rail-mode', 'sandbox');
      await waitText(page, 'rail-shortcode', '174379');
      /* The callback URL with the workspace's token, computed here a second
       * way (HMAC-SHA256 of the label under the key, 128 bits in hex). */
      const token = createHmac('sha256', KEY).update('constra callback token v1').digest('hex').slice(0, 32);
      await waitText(page, 'rail-callback', `${server.base}/api/v1/providers/mpesa/callback?token=${token}`);
      await waitText(page, 'rail-workspace', /^ws_[0-9a-z]{26}$/);
      await waitText(page, 'rail-attempts', /^\d+$/);
      await waitText(page, 'rail-timeout', /\d+ (minute|hour|s)/);
      await waitText(page, 'connection', 'Connected');
      await waitCounters(page, { total: 0, awaiting: 0, paid: 0, review: 0 });
      /* The microphone button exists exactly where speech recognition does. */
      const speech = await page.evaluate(() => typeof (window.SpeechRecognition || window.webkitSpeechRecognition) === 'function');
      assert(await page.locator(tid('instr-mic')).isVisible() === speech, `mic shown must equal speech support (${speech})`);
    });

    await step('a typed instruction becomes a draft for review', async () => {
      await page.fill(tid('instr-text'), INSTRUCTION);
      await click(page, 'instr-submit');
      await page.locator(tid('draft')).waitFor({ state: 'visible' });
      await waitText(page, 'draft-amount', 'KES 1,250');
      await waitText(page, 'draft-phone', '254712345678');
      await waitText(page, 'draft-reference', '7429');
      await waitText(page, 'draft-description', /solar kit deposit/i);
      await waitText(page, 'draft-not-understood', /understood/i);
      await waitText(page, 'selected-status', 'draft');
      await waitCounters(page, { total: 1, awaiting: 1, paid: 0, review: 0 });
      await shot(page, '01-draft');
    });

    await step('confirming the draft sends the prompt (pending_user_action)', async () => {
      await click(page, 'draft-confirm');
      await waitText(page, 'selected-status', 'pending_user_action');
      await waitText(page, 'selected-next', 'wait_for_callback');
      await waitCounters(page, { total: 1, awaiting: 1, paid: 0, review: 0 });
    });

    await step('cancel (1032) in the outcome lab gives requires_recovery and the agent note', async () => {
      await click(page, 'lab-cancel');
      await waitText(page, 'selected-status', 'requires_recovery');
      await waitText(page, 'agent-note', /cancelled the prompt/i);
      await waitText(page, 'rec-action', 'retry');
      await waitText(page, 'rec-retry', 'yes');
      await waitText(page, 'rec-used', '1');
      await waitCounters(page, { total: 1, awaiting: 0, paid: 0, review: 1 });
      await waitText(page, 'timeline', 'payment_intent.requires_recovery');
      await waitText(page, 'timeline', '1032');
      await shot(page, '02-requires-recovery');
    });

    await step('retry sends a new prompt', async () => {
      await click(page, 'act-retry');
      await waitText(page, 'selected-status', 'pending_user_action');
      await waitCounters(page, { total: 1, awaiting: 1, paid: 0, review: 0 });
    });

    await step('success (0) in the outcome lab gives succeeded and the counters change', async () => {
      await click(page, 'lab-success');
      await waitText(page, 'selected-status', 'succeeded');
      await waitText(page, 'selected-receipt', /^[A-Z0-9]{10}$/);
      await waitText(page, 'recovery-none', /Nothing to recover/);
      await waitCounters(page, { total: 1, awaiting: 0, paid: 1, review: 0 });
      await waitText(page, 'health-success', '100%');
      await waitText(page, 'timeline', 'payment_intent.succeeded');
      const types = await page.locator(`${tid('timeline')} ${tid('event')}`).evaluateAll(
        (els) => els.map((e) => e.dataset.type));
      const want = ['payment_intent.created', 'payment_intent.pending_user_action',
        'payment_intent.requires_recovery', 'payment_intent.pending_user_action',
        'payment_intent.succeeded'];
      /* The loop's events appear in this order (others may sit between). */
      let at = 0;
      for (const t of types) {
        if (at < want.length && t === want[at]) {
          at++;
        }
      }
      assert(at === want.length, `timeline order: ${types.join(', ')}`);
      assert(types[types.length - 1] === 'payment_intent.succeeded', `last event: ${types.at(-1)}`);
      await shot(page, '03-succeeded');
    });

    await step('the list shows the intent and filters by status', async () => {
      const row = page.locator(`${tid('intent-row')}[data-status="succeeded"]`);
      await row.first().waitFor({ state: 'visible' });
      await page.selectOption(tid('filter-status'), 'requires_recovery');
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 0,
        tid('intent-row'), { timeout: WAIT_MS });
      await waitText(page, 'intent-empty', 'requires_recovery');
      await page.selectOption(tid('filter-status'), 'succeeded');
      await row.first().waitFor({ state: 'visible' });
      await page.selectOption(tid('filter-status'), '');
    });

    await step('API errors are shown in words (refused instruction, invalid create, wrong state)', async () => {
      await page.fill(tid('instr-text'), 'hello there');
      await click(page, 'instr-submit');
      await waitText(page, 'instr-error', 'instruction_refused');
      await waitText(page, 'instr-error', /nothing to collect/);
      await waitText(page, 'instr-error', 'HTTP 422');

      await page.fill(tid('create-phone'), '0712 345 678');
      await page.fill(tid('create-amount'), '');
      await click(page, 'create-submit');
      await waitText(page, 'create-error', /code parameter_missing, param amount, HTTP 400/);

      await page.fill(tid('create-amount'), '12.5');
      await click(page, 'create-submit');
      await waitText(page, 'create-error', /parameter_invalid, param amount/);

      /* An action the state does not allow: a resolve on a succeeded
       * intent is 409 invalid_state, whatever the button said. */
      await page.evaluate(() => { document.getElementById('act-resolve').disabled = false; });
      await page.fill(tid('resolve-receipt'), 'TKR1234567');
      await page.locator(tid('act-resolve')).click();
      await waitText(page, 'action-error', /invalid_state.*HTTP 409/);
      await shot(page, '04-api-errors');
      await waitCounters(page, { total: 1, awaiting: 0, paid: 1, review: 0 });
    });

    await step('the create form makes an intent with an automatic idempotency key', async () => {
      await page.fill(tid('create-amount'), '500');
      await page.fill(tid('create-phone'), '0712 345 678');
      await page.fill(tid('create-name'), 'Amina N.');
      await page.fill(tid('create-reference'), 'order_7430');
      await page.fill(tid('create-description'), 'Solar kit balance');
      /* Read once the form is filled: every change to it renews the key. */
      const key = await page.inputValue(tid('create-key'));
      assert(/^dash_[a-z0-9_]+$/.test(key), `idempotency key ${key}`);
      await click(page, 'create-submit');
      await waitText(page, 'selected-status', 'pending_user_action');
      await waitCounters(page, { total: 2, awaiting: 1, paid: 1, review: 0 });
      const next = await page.inputValue(tid('create-key'));
      assert(next === key, 'the key is kept after a create while the form is unchanged');
      const firstId = await text(page, 'selected-id');
      /* A second click on the same form replays: the same intent, no
       * second intent (and no second prompt on the phone). */
      await click(page, 'create-submit');
      await page.waitForTimeout(800);
      await waitCounters(page, { total: 2, awaiting: 1, paid: 1, review: 0 });
      assert((await text(page, 'selected-id')) === firstId, 'the replay selects the same intent');
      /* Then a true double click on the unchanged form: still one intent. */
      await page.locator(tid('create-submit')).dblclick({ timeout: WAIT_MS });
      await page.waitForTimeout(800);
      await waitCounters(page, { total: 2, awaiting: 1, paid: 1, review: 0 });
      /* A change to the form gives it a new key. */
      await page.fill(tid('create-description'), 'Solar kit balance, again');
      assert((await page.inputValue(tid('create-key'))) !== key, 'a changed form gets a new key');
      await page.fill(tid('create-description'), 'Solar kit balance');
      await click(page, 'lab-insufficient');
      await waitText(page, 'selected-status', 'requires_recovery');
      await waitText(page, 'agent-note', /\S/);
      await waitCounters(page, { total: 2, awaiting: 0, paid: 1, review: 1 });
      await click(page, 'act-cancel');
      await waitText(page, 'selected-status', 'cancelled');
      await waitCounters(page, { total: 2, awaiting: 0, paid: 1, review: 0 });
    });

    await step('any result code in the lab: an unknown one goes to review, resolved by the operator', async () => {
      await page.fill(tid('create-amount'), '750');
      await page.fill(tid('create-reference'), 'order_7431');
      await click(page, 'create-submit');
      await waitText(page, 'selected-status', 'pending_user_action');
      await waitCounters(page, { total: 3, awaiting: 1 });
      await page.fill(tid('lab-code'), '7777');
      await page.fill(tid('lab-desc'), 'A code nobody documented');
      await click(page, 'lab-apply');
      await waitText(page, 'selected-status', 'review_required');
      await waitText(page, 'timeline', 'A code nobody documented');
      await waitCounters(page, { total: 3, awaiting: 0, paid: 1, review: 1 });
      await page.selectOption(tid('resolve-outcome'), 'failed');
      await page.fill(tid('resolve-receipt'), '');
      await page.fill(tid('resolve-note'), 'Customer says no money left the phone');
      await click(page, 'act-resolve');
      await waitText(page, 'selected-status', 'failed');
      await waitCounters(page, { total: 3, awaiting: 0, paid: 1, review: 0 });
      await waitText(page, 'health-success', '33%');
      await shot(page, '05-resolved');
    });

    await step('webhooks: add an endpoint (secret shown once), a test event reaches a receiver, replay', async () => {
      const got = [];
      const receiver = createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          got.push({ headers: req.headers, body: Buffer.concat(chunks) });
          res.writeHead(200).end('ok');
        });
      });
      await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${receiver.address().port}/hooks`;
        await waitText(page, 'wh-ep-empty', /No endpoint yet/);
        await page.fill(tid('wh-url'), 'ftp://nope.example/');
        await click(page, 'wh-add');
        await waitText(page, 'wh-error', /url_invalid.*HTTP 400|HTTP 400/);
        await page.fill(tid('wh-url'), url);
        await page.fill(tid('wh-desc'), 'Order service <b>till</b> 4');
        await page.selectOption(tid('wh-scheme'), 'constra');
        await click(page, 'wh-add');
        await waitText(page, 'wh-secret', /^whsec_/);
        await waitText(page, 'wh-endpoint-desc', 'Order service <b>till</b> 4');
        await waitText(page, 'wh-endpoints', 'Constra-Signature only');
        await waitText(page, 'wh-secret-note', /sandbox mode only/);
        const secret = await text(page, 'wh-secret');
        await page.locator(tid('wh-endpoint')).first().waitFor({ timeout: WAIT_MS });
        await click(page, 'wh-secret-done');
        assert(!(await page.locator(tid('wh-secret-box')).isVisible()), 'the secret stays shown');
        assert(!(await page.content()).includes(secret), 'the secret is still in the page');
        await click(page, 'wh-test');
        const deadline = Date.now() + WAIT_MS;
        while (!got.some((g) => g.headers['constra-event-type'] === 'webhook.test') && Date.now() < deadline) {
          await delay(100);
        }
        const test = got.find((g) => g.headers['constra-event-type'] === 'webhook.test');
        assert(test, `no test event received (${got.length} requests)`);
        const want = createHmac('sha256', secret).update(test.body).digest('hex');
        assert(test.headers['constra-signature-body'] === want, 'the test event does not verify');
        assert(!('webhook-signature' in test.headers), 'scheme constra still sent webhook-signature');
        await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="wh-delivery"]')]
          .some((r) => r.dataset.status === 'delivered'), null, { timeout: WAIT_MS, polling: 100 });
        await shot(page, '06-webhooks');
        const n = got.length;
        await click(page, 'wh-replay');
        const until = Date.now() + WAIT_MS;
        while (got.length === n && Date.now() < until) {
          await delay(100);
        }
        assert(got.length === n + 1, `the replay did not arrive (${got.length - n})`);
        assert(got[n].headers['constra-delivery-id'] === test.headers['constra-delivery-id'] ||
          got.slice(0, n).some((g) => g.headers['constra-delivery-id'] === got[n].headers['constra-delivery-id']),
        'the replay has a new delivery id');
        await click(page, 'wh-toggle');
        await waitText(page, 'wh-endpoints', 'disabled');
        await click(page, 'wh-delete');
        await waitText(page, 'wh-ep-empty', /No endpoint yet/);
      } finally {
        receiver.close();
      }
    });

    await step('Integrate: the docs link, snippets with the API base but never the key, the rules with this workspace\'s numbers', async () => {
      assert(await page.locator(tid('docs-link')).getAttribute('href') === '#integrate', 'the docs link targets the Integrate panel');
      await click(page, 'docs-link');
      await page.waitForFunction(() => location.hash === '#integrate', null, { timeout: WAIT_MS });
      const inView = await page.evaluate(() => {
        const r = document.getElementById('integrate').getBoundingClientRect();
        return r.top < window.innerHeight && r.bottom > 0;
      });
      assert(inView, 'the Integrate panel is scrolled into view');
      const api = `${server.base}/api/v1`;
      await waitText(page, 'int-base', api);
      await waitText(page, 'int-snippet', `curl -sS -X POST ${api}/payment-intents`);
      const want = { python: 'Client.from_env()', node: 'Client.fromEnv()', c: 'constra_open_remote(&h, &cfg, &err);', curl: '$CONSTRA_SECRET_KEY' };
      const texts = {};
      for (const [lang, text] of Object.entries(want)) {
        await click(page, `int-tab-${lang}`);
        await waitText(page, 'int-snippet', text);
        texts[lang] = await page.locator(tid('int-snippet')).textContent();
        assert(!texts[lang].includes(KEY), `the ${lang} snippet must not contain the key`);
        assert(texts[lang].includes(api), `the ${lang} snippet names the API base`);
        assert(await page.locator(tid(`int-tab-${lang}`)).getAttribute('aria-selected') === 'true', `${lang} tab selected`);
      }
      /* The curl snippet is not just text: run as shown, it creates an intent. */
      const { execFileSync } = await import('node:child_process');
      const out = execFileSync('bash', ['-c', `${texts.curl} -w '\\n%{http_code}'`], {
        env: { ...process.env, CONSTRA_SECRET_KEY: KEY }, timeout: 20000 }).toString();
      const code = out.trim().split('\n').pop();
      assert(code === '201' || code === '200', `the curl snippet answered ${code}: ${out.slice(0, 300)}`);
      assert(/"id":"pi_/.test(out), `the curl snippet's answer is an intent: ${out.slice(0, 300)}`);
      /* Its metadata shows in the detail view, as text. */
      const made = JSON.parse(out.trim().split('\n').slice(0, -1).join('\n'));
      assert(made.metadata && made.metadata.order_id === '7429', `metadata in the answer: ${out.slice(0, 300)}`);
      const madeRow = page.locator(`${tid('intent-row')}[data-id="${made.id}"]`);
      await madeRow.first().waitFor({ state: 'visible', timeout: WAIT_MS });
      await madeRow.first().click();
      await waitText(page, 'selected-id', made.id);
      await waitText(page, 'selected-metadata', 'order_id: 7429');
      await waitText(page, 'exec-attempts', /^3$/);
      await waitText(page, 'cb-timeout', /\d+ (minute|minutes|hour|hours|s)/);
      await waitText(page, 'exec-retention', /\d+ (hour|hours|minute|minutes|day|days)/);
      await waitText(page, 'cb-duplicates', /^\d+$/);
      await waitText(page, 'cb-unmatched', /^\d+$/);
      await waitText(page, 'cb-refused', /^\d+$/);
      await shot(page, '07b-integrate');
    });

    await step('a wrong key is reported in words (invalid, then wrong mode)', async () => {
      const other = await context.newPage();
      watch(other);
      /* This page also plays a browser without speech recognition. */
      await other.addInitScript(() => {
        delete window.SpeechRecognition;
        delete window.webkitSpeechRecognition;
      });
      await other.goto(`${server.base}/#key=cs_test_not_the_right_key_000`, { waitUntil: 'load' });
      await waitText(other, 'key-status', /^invalid: the API key is not valid/);
      await waitText(other, 'error-text', /code invalid_api_key, HTTP 401/);
      assert(!(await other.locator(tid('instr-mic')).isVisible()), 'mic shown without speech recognition');
      await shot(other, '06-wrong-key');
      await other.fill(tid('key-input'), 'cs_live_not_the_right_key_000');
      await click(other, 'key-save');
      await waitText(other, 'key-status', /^wrong mode: /);
      await waitText(other, 'error-text', 'api_key_mode_mismatch');
      /* The right key recovers. */
      await other.fill(tid('key-input'), KEY);
      await click(other, 'key-save');
      await waitText(other, 'key-status', 'valid');
      /* Four: three from the dashboard, one from the Integrate step's curl (the
       * sandbox test number succeeds at once). */
      await waitCounters(other, { total: 4, paid: 2 });
      /* Nothing selected: the review, the lab and the timeline say what
       * will appear there (empty states, not hidden panels). */
      await waitText(other, 'timeline-empty', /Select an intent to see its events/);
      await waitText(other, 'recovery-none', /Select an intent/);
      assert(await other.locator(tid('lab-success')).isVisible(), 'the outcome lab is hidden');
      assert(await other.locator(tid('lab-success')).isDisabled(), 'the lab acts on nothing');
      await waitText(other, 'rail-api-base', /^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
      await waitText(other, 'rail-callback-status', /receiving events/);
      await waitText(other, 'rail-callbacks', /provider results/);
      await waitText(other, 'rail-policy', /Up to 3 prompts per intent/);
      await waitText(other, 'connection', 'Connected');
      await other.close();
    });

    await step('no element is clipped at 1366x900 and at 800 px', async () => {
      for (const [w, h, name] of [[1366, 900, '08-1366'], [800, 900, '09-800']]) {
        await page.setViewportSize({ width: w, height: h });
        await page.waitForTimeout(400);
        const bad = await page.evaluate(() => {
          const out = [];
          const label = (el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}` +
            `${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''}`;
          const visible = (el) => el.getClientRects().length > 0 && !el.closest('[hidden]');
          const skip = new Set(['INPUT', 'SELECT', 'TEXTAREA', 'OPTION']);
          if (document.documentElement.scrollWidth > window.innerWidth + 1) {
            out.push(`the page is ${document.documentElement.scrollWidth} px wide`);
          }
          for (const el of document.querySelectorAll('body *')) {
            if (!visible(el) || skip.has(el.tagName) || el.classList.contains('visually-hidden')) continue;
            const cs = getComputedStyle(el);
            /* A deliberate ellipsis with the whole text in its title is not clipping. */
            const ellipsis = cs.textOverflow === 'ellipsis' && el.title && el.title === el.textContent;
            if (!ellipsis && cs.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
              out.push(`${label(el)} scrolls: content ${el.scrollWidth} > box ${el.clientWidth}`);
            }
          }
          for (const panel of document.querySelectorAll('.panel, .topbar')) {
            const r = panel.getBoundingClientRect();
            for (const el of panel.querySelectorAll('*')) {
              if (!visible(el) || el.classList.contains('visually-hidden')) continue;
              const b = el.getBoundingClientRect();
              if (b.width > 0 && (b.right > r.right + 1 || b.left < r.left - 1)) {
                out.push(`${label(el)} sticks out of ${label(panel)} (${Math.round(b.left)}..${Math.round(b.right)} vs ${Math.round(r.left)}..${Math.round(r.right)})`);
              }
            }
          }
          return out.slice(0, 20);
        });
        await shot(page, name);
        assert(bad.length === 0, `${w} px:\n${bad.join('\n')}`);
      }
      await page.setViewportSize({ width: 1440, height: 1000 });
    });

    await step('no script error, no CSP violation, the key never in a URL', async () => {
      assert(pageErrors.length === 0, pageErrors.join('\n'));
      const api = requests.filter((r) => r.url.includes('/api/v1/'));
      assert(api.length > 20, `only ${api.length} API requests seen`);
      const leaked = requests.filter((r) => r.url.includes(KEY));
      assert(leaked.length === 0, `key in URL: ${leaked.map((r) => r.url).join(', ')}`);
      assert(api.every((r) => /^Bearer cs_/.test(r.auth)), 'an API request without the Bearer key');
    });

    let ended;
    await step('a network failure is shown when the server goes away', async () => {
      ended = await stopServer(server);
      await waitText(page, 'connection', 'Offline');
      await waitText(page, 'error-text', /Network failure/);
      await shot(page, '07-offline');
    });

    await step('constra serve stopped cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
      const { err } = server.output();
      assert(!ended.killed, 'it did not stop within 20 s of SIGTERM');
      assert(ended.code === 0, `exit ${ended.code ?? ended.signal}\nstderr:\n${err.slice(-3000)}`);
      assert(!/Sanitizer|runtime error:/.test(err), `stderr:\n${err.slice(-3000)}`);
    });
  } catch (err) {
    if (!(err instanceof Stop)) {
      notOk('the run ends without an unexpected error', err);
    }
    if (server) {
      const { out, err: e } = server.output();
      diag(`server stdout:\n${out.slice(-3000)}\nserver stderr:\n${e.slice(-3000)}`);
    }
  } finally {
    if (context) {
      await context.close().catch((e) => diag(`closing the browser: ${e.message}`));
    }
    await stopServer(server).catch((e) => diag(`stopping the server: ${e.message}`));
    rmSync(profile, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  if (!(err instanceof Stop)) {
    notOk('the run ends without an unexpected error', err);
  }
}
console.log(`1..${testNo}`);
process.exitCode = failures ? 1 : 0;
