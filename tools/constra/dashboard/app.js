/*
 * Constra Workspace: the operator dashboard of `constra serve`.
 *
 * Plain JavaScript, no framework, no build step, no external URL. The
 * server sends `Content-Security-Policy: default-src 'self'`, so nothing
 * here is inline: every handler is attached below and every style is a
 * class in app.css. Text from the API is always put in the page with
 * textContent, never as HTML.
 *
 * The workspace key comes from the form or from the URL fragment
 * (#key=cs_test_...; fragments are never sent to a server), lives in
 * sessionStorage (this tab only) and goes out only as a Bearer token.
 * The fragment is removed from the address bar once read.
 *
 * Every API error is shown in words: the error JSON's message, code and
 * param, and the HTTP status; a network failure says so too.
 */
'use strict';

(() => {
  const API = '/api/v1';
  const POLL_MS = 1500;
  const KEY_STORE = 'constra.workspace_key';
  const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

  const $ = (id) => document.getElementById(id);

  const state = {
    key: null,
    keyOk: false,
    workspace: null,
    overview: null,
    intents: [],
    listSig: '',
    selectedId: null,
    selected: null,
    events: [],
    eventsSig: '',
    draftId: null,
    draftStatus: null,
    snippet: 'curl', /* the Integrate panel's language */
    pollTimer: null,
    polling: false,
    generation: 0, /* bumped when the key changes: late answers are dropped */
    mutations: 0,  /* bumped by every change the operator makes */
    again: false,  /* a refresh was asked for while one was running */
    whSig: '',     /* what the webhooks panel shows, to skip identical renders */
  };

  /* ---- the API -------------------------------------------------------------- */

  class ApiError extends Error {
    constructor(status, code, message, param) {
      super(message);
      this.name = 'ApiError';
      this.status = status;
      this.code = code;
      this.param = param;
    }
  }

  class NetworkError extends Error {
    constructor(cause) {
      super(cause && cause.message ? cause.message : String(cause));
      this.name = 'NetworkError';
    }
  }

  /* One request. Resolves to the parsed JSON body of a 2xx answer and
   * throws ApiError (with the server's own words) or NetworkError. */
  async function api(method, path, body, extraHeaders) {
    if (!state.key) {
      throw new ApiError(0, 'no_key', 'Enter the workspace secret key first.', null);
    }
    const headers = { Authorization: `Bearer ${state.key}`, Accept: 'application/json' };
    const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    Object.assign(headers, extraHeaders || {});
    let res;
    try {
      res = await fetch(API + path, init);
    } catch (e) {
      throw new NetworkError(e);
    }
    let text = '';
    try {
      text = await res.text();
    } catch (e) {
      throw new NetworkError(e);
    }
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (res.ok && data !== null) {
      return data;
    }
    if (data && data.error && typeof data.error === 'object') {
      const err = data.error;
      let message = typeof err.message === 'string' && err.message ? err.message : res.statusText;
      const retry = res.headers.get('Retry-After');
      if (res.status === 429 && retry) {
        message += ` (retry after ${retry} s)`;
      }
      throw new ApiError(res.status, err.code || 'api_error', message, err.param ?? null);
    }
    const snippet = text.slice(0, 200).trim();
    throw new ApiError(res.status, 'unexpected_response',
      `the server answered HTTP ${res.status} ${res.statusText || ''} without the error JSON` +
      (snippet ? `: ${snippet}` : ''), null);
  }

  /* The operator-facing sentence for any failure. */
  function describe(err) {
    if (err instanceof ApiError) {
      if (err.status === 0) {
        return err.message;
      }
      let s = `${err.message} (code ${err.code}`;
      if (err.param) {
        s += `, param ${err.param}`;
      }
      return `${s}, HTTP ${err.status})`;
    }
    if (err instanceof NetworkError) {
      return `Network failure: the Constra server at ${location.origin} could not be reached ` +
        `(${err.message}). Is \`constra serve\` still running?`;
    }
    return `Unexpected error in the dashboard: ${err && err.message ? err.message : err}`;
  }

  /* ---- small helpers -------------------------------------------------------- */

  function setText(id, value) {
    const el = $(id);
    const v = value === null || value === undefined || value === '' ? '—' : String(value);
    if (el.textContent !== v) {
      el.textContent = v;
    }
  }

  function show(el, on) {
    el.hidden = !on;
  }

  function money(amount, currency) {
    if (typeof amount !== 'number') {
      return '—';
    }
    return `${currency || ''} ${new Intl.NumberFormat('en-KE').format(amount)}`.trim();
  }

  function clock(iso) {
    if (!iso) {
      return '—';
    }
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) {
      return iso;
    }
    return d.toLocaleTimeString('en-GB', { hour12: false });
  }

  function duration(ms) {
    if (typeof ms !== 'number') {
      return '—';
    }
    if (ms % 3600000 === 0) {
      const h = ms / 3600000;
      return `${h} hour${h === 1 ? '' : 's'}`;
    }
    if (ms % 60000 === 0) {
      const m = ms / 60000;
      return `${m} minute${m === 1 ? '' : 's'}`;
    }
    return `${ms / 1000} s`;
  }

  function badge(el, status) {
    el.textContent = status || '';
    el.className = `badge${status ? ` s-${status}` : ''}`;
    el.dataset.status = status || '';
  }

  function newIdempotencyKey() {
    /* crypto.randomUUID needs a secure context; getRandomValues does not. */
    const b = new Uint8Array(12);
    crypto.getRandomValues(b);
    return `dash_${Date.now().toString(36)}_${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
  }

  function formError(id, err) {
    const el = $(id);
    if (err) {
      el.textContent = describe(err);
      show(el, true);
    } else {
      el.textContent = '';
      show(el, false);
    }
  }

  let bannerSticky = false;
  function banner(title, err, sticky) {
    $('banner-title').textContent = title;
    $('banner-text').textContent = describe(err);
    show($('banner'), true);
    bannerSticky = !!sticky;
  }

  function clearBanner(onlyTransient) {
    if (onlyTransient && bannerSticky) {
      return;
    }
    show($('banner'), false);
    bannerSticky = false;
  }

  function announce(text) {
    $('foot-status').textContent = `${clock(new Date().toISOString())} · ${text}`;
  }

  function connection(stateName, text) {
    const el = $('conn');
    el.dataset.state = stateName;
    $('conn-text').textContent = text;
  }

  /* ---- the key -------------------------------------------------------------- */

  function keyStatus(stateName, text) {
    const el = $('key-status');
    el.dataset.state = stateName;
    el.textContent = text;
  }

  function loadKey() {
    /* #key=... in the fragment (never sent to the server): take it, keep
     * it in this tab's session storage, then drop it from the address. */
    const frag = new URLSearchParams(location.hash.replace(/^#/, ''));
    const fromHash = frag.get('key');
    if (fromHash) {
      try {
        sessionStorage.setItem(KEY_STORE, fromHash.trim());
      } catch (e) { /* storage disabled: keep it in memory only */ }
      history.replaceState(null, '', location.pathname + location.search);
      return fromHash.trim();
    }
    try {
      return sessionStorage.getItem(KEY_STORE);
    } catch (e) {
      return null;
    }
  }

  function useKey(key) {
    state.key = key || null;
    state.keyOk = false;
    state.generation++;
    state.workspace = null;
    state.listSig = '';
    state.eventsSig = '';
    try {
      if (key) {
        sessionStorage.setItem(KEY_STORE, key);
      } else {
        sessionStorage.removeItem(KEY_STORE);
      }
    } catch (e) { /* in memory only */ }
    stopPolling();
    resetView();
    if (!key) {
      keyStatus('none', 'no key entered');
      connection('idle', 'Not connected');
      return;
    }
    checkKey();
  }

  /* GET /workspace: the key check and the rail configuration at once. */
  async function checkKey() {
    const gen = state.generation;
    keyStatus('checking', 'checking against the API…');
    try {
      const ws = await api('GET', '/workspace');
      if (gen !== state.generation) {
        return;
      }
      state.workspace = ws;
      state.keyOk = true;
      const mode = ws.livemode ? 'live' : 'sandbox';
      keyStatus('valid', `valid · ${mode} key accepted by the API`);
      clearBanner(false);
      renderWorkspace();
      startPolling();
    } catch (err) {
      if (gen !== state.generation) {
        return;
      }
      state.keyOk = false;
      if (err instanceof ApiError && err.status === 401) {
        const words = {
          invalid_api_key: 'invalid',
          api_key_mode_mismatch: 'wrong mode',
          authentication_required: 'missing or malformed',
        }[err.code] || 'refused';
        keyStatus(err.code === 'api_key_mode_mismatch' ? 'mode' : 'invalid', `${words}: ${err.message}`);
        connection('error', 'Key refused');
      } else {
        keyStatus('unknown', 'could not be checked (see the error above)');
        connection(err instanceof NetworkError ? 'offline' : 'error',
          err instanceof NetworkError ? 'Server unreachable' : 'Error');
        /* Try again: the server may just be restarting. */
        schedule(POLL_MS * 2, checkKey);
      }
      banner('The API key was not accepted', err, true);
    }
  }

  /* ---- polling -------------------------------------------------------------- */

  function schedule(ms, fn) {
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(fn, ms);
  }

  function startPolling() {
    schedule(0, poll);
  }

  function stopPolling() {
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  function listPath() {
    const q = new URLSearchParams({ limit: '50' });
    const status = $('filter-status').value;
    if (status) {
      q.set('status', status);
    }
    return `/payment-intents?${q}`;
  }

  async function poll() {
    if (!state.keyOk || state.polling) {
      return;
    }
    if (document.hidden) {
      /* A tab in the background does not need fresh numbers. */
      schedule(POLL_MS, poll);
      return;
    }
    state.polling = true;
    state.again = false;
    const gen = state.generation;
    try {
      if (!(await refresh(gen))) {
        state.again = true;
      }
      if (gen === state.generation) {
        /* "Connected", not "Live": beside "Mode sandbox" a green "Live"
       * read as production. */
      connection('live', `Connected · updated ${clock(new Date().toISOString())}`);
        clearBanner(true);
      }
    } catch (err) {
      if (gen === state.generation) {
        if (err instanceof ApiError && err.status === 401) {
          /* The key stopped working (server restarted with another one). */
          state.keyOk = false;
          keyStatus('invalid', `refused: ${err.message}`);
          banner('The API key was refused', err, true);
          connection('error', 'Key refused');
          state.polling = false;
          return;
        }
        connection(err instanceof NetworkError ? 'offline' : 'error',
          err instanceof NetworkError ? 'Offline · retrying' : 'Error · retrying');
        banner('Could not refresh the workspace', err, false);
      }
    } finally {
      state.polling = false;
    }
    if (gen === state.generation && state.keyOk) {
      schedule(state.again ? 0 : POLL_MS, poll);
    }
  }

  /* One round of reads. Returns false when its answers were dropped
   * because the operator changed something meanwhile (they may predate
   * the change and would briefly show the old state). */
  async function refresh(gen) {
    const wanted = state.selectedId;
    const mutations = state.mutations;
    const calls = [api('GET', '/sandbox/overview'), api('GET', listPath())];
    if (wanted) {
      calls.push(api('GET', `/payment-intents/${encodeURIComponent(wanted)}`));
      calls.push(api('GET', `/payment-intents/${encodeURIComponent(wanted)}/events`));
    }
    const [overview, list, intent, events] = await Promise.all(calls);
    if (gen !== state.generation) {
      return true;
    }
    if (mutations !== state.mutations) {
      return false;
    }
    state.overview = overview;
    renderOverview();
    renderList(list);
    await refreshWebhooks(gen);
    if (wanted && wanted === state.selectedId) {
      state.selected = intent;
      if (intent.id === state.draftId && state.draftStatus !== intent.status) {
        state.draftStatus = intent.status;
        renderDraftButtons();
      }
      renderSelected();
      renderTimeline(events);
    }
    return true;
  }

  /* Refresh now (after an action), not waiting for the next tick. */
  function refreshSoon() {
    if (!state.keyOk) {
      return;
    }
    if (state.polling) {
      state.again = true;
    } else {
      schedule(0, poll);
    }
  }

  /* ---- rendering ------------------------------------------------------------ */

  function renderWorkspace() {
    const ws = state.workspace;
    if (!ws) {
      return;
    }
    const rail = ws.rail || {};
    const policy = ws.retry_policy || {};
    setText('health-api', ws.api_version);
    setText('health-rail', rail.name ? `${rail.name} · ${rail.provider || ''}` : null);
    setText('health-mode', ws.livemode ? 'live' : 'sandbox');
    setText('rail-mode', ws.livemode ? 'live (real money)' : 'sandbox (simulated)');
    setText('rail-name', rail.name ? `${rail.name} (${rail.provider})` : null);
    setText('rail-shortcode', rail.shortcode ?? 'set on the Daraja rail');
    /* The server's own URL with the workspace's callback token (GET
     * /workspace callback_url); without one, callbacks are refused. */
    setText('rail-callback', ws.callback_url || 'none: every callback is refused (no callback token or public URL)');
    setText('rail-workspace', ws.workspace_id || 'not recorded by this storage (mode not checked)');
    setText('rail-attempts', policy.max_attempts);
    setText('rail-timeout', duration(policy.callback_timeout_ms));
    setText('rail-retention', duration(policy.idempotency_retention_ms));
    setText('rail-version', ws.library_version ? `libconstra ${ws.library_version}` : null);
    setText('rail-api-base', `${location.origin}${API}`);
    /* The callback URL with break points after its separators, so that it
     * wraps between parts instead of in the middle of a word. */
    const url = ws.callback_url;
    const el = $('rail-callback');
    if (url) {
      const parts = url.split(/(?<=[/?&=])/);
      el.replaceChildren(...parts.flatMap((p, k) => (k ? [document.createElement('wbr'), p] : [p])));
    }
    setText('rail-policy', policy.max_attempts
      ? `Up to ${policy.max_attempts} prompts per intent. Each waits ${duration(policy.callback_timeout_ms)} ` +
        'for the callback; then the rail is asked (STK query), and a prompt with no answer needs ' +
        `a check before a retry. A re-sent request with the same idempotency key within ` +
        `${duration(policy.idempotency_retention_ms)} gets the first answer again.`
      : null);
    document.body.classList.toggle('is-live', !!ws.livemode);
    $('lab-h').parentElement.classList.toggle('disabled-lab', !!ws.livemode);
    renderIntegrate();
  }

  /* Nothing shown may outlive the key it was read with. */
  function resetView() {
    for (const id of ['health-api', 'health-rail', 'health-mode', 'health-success', 'rail-mode',
      'rail-name', 'rail-shortcode', 'rail-callback', 'rail-workspace', 'rail-attempts', 'rail-timeout',
      'rail-retention', 'rail-version', 'count-total', 'count-awaiting', 'count-paid',
      'count-review', 'rail-api-base', 'rail-callbacks', 'rail-callback-status', 'rail-policy']) {
      setText(id, null);
    }
    state.overview = null;
    state.intents = [];
    state.selectedId = null;
    state.selected = null;
    state.draftId = null;
    state.draftStatus = null;
    $('intent-rows').replaceChildren();
    $('timeline').replaceChildren();
    state.whSig = '';
    $('wh-endpoints').replaceChildren();
    $('wh-deliveries').replaceChildren();
    show($('wh-ep-empty'), true);
    show($('wh-dl-empty'), true);
    hideSecret();
    show($('intent-empty'), true);
    show($('draft'), false);
    renderSelected();
    renderIntegrate();
  }

  function renderOverview() {
    const o = state.overview;
    const by = (o && o.intents && o.intents.by_status) || {};
    const n = (s) => (typeof by[s] === 'number' ? by[s] : 0);
    const total = o && o.intents ? o.intents.total : 0;
    setText('count-total', total);
    setText('count-awaiting', n('draft') + n('pending_user_action'));
    setText('count-paid', n('succeeded'));
    setText('count-review', n('requires_recovery') + n('review_required'));
    const settled = total - n('draft') - n('pending_user_action');
    setText('health-success', settled > 0 ? `${Math.round((100 * n('succeeded')) / settled)}%` : 'no results yet');
    /* Callbacks belong to the rail, not to the intents counter. */
    const cb = (o && o.callbacks) || {};
    setText('rail-callbacks', `${cb.total || 0} provider results: ${cb.applied || 0} applied, ` +
      `${cb.duplicates || 0} duplicate, ${cb.unmatched || 0} unmatched`);
    const results = new Set(['payment_intent.succeeded', 'payment_intent.failed',
      'payment_intent.requires_recovery', 'payment_intent.review_required',
      'payment_intent.callback_duplicate']);
    const last = ((o && o.recent_events) || []).find((e) => results.has(e.type));
    setText('rail-callback-status', (cb.total || 0) > 0
      ? `receiving events${last ? ` · last provider result ${clock(last.created_at)}` : ''}`
      : 'no provider result yet (callbacks arrive at the URL above)');
    /* "Recovered": paid on a later attempt, among the intents listed. */
    const recovered = state.intents.filter((i) => i.status === 'succeeded' && (i.attempts || []).length > 1).length;
    setText('count-paid-sub', recovered ? `succeeded, ${recovered} after a retry` : 'succeeded');
    renderIntegrate();
  }

  function renderList(list) {
    const data = (list && Array.isArray(list.data)) ? list.data : [];
    state.intents = data;
    const sig = JSON.stringify(data.map((i) => [i.id, i.status, i.updated_at]));
    if (sig === state.listSig) {
      markSelectedRow();
      return;
    }
    state.listSig = sig;
    const body = $('intent-rows');
    const focusedId = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.id : null;
    const rows = data.map((i) => {
      const tr = document.createElement('tr');
      tr.setAttribute('data-testid', 'intent-row');
      tr.dataset.id = i.id;
      tr.dataset.status = i.status;
      const cell = (text, cls) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) {
          td.className = cls;
        }
        tr.appendChild(td);
        return td;
      };
      const idCell = document.createElement('td');
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'link mono';
      btn.textContent = i.id;
      btn.dataset.id = i.id;
      btn.title = i.id;
      btn.setAttribute('aria-label', `Select intent ${i.id}, ${i.status}`);
      btn.addEventListener('click', () => select(i.id));
      idCell.appendChild(btn);
      tr.appendChild(idCell);
      const st = document.createElement('td');
      const b = document.createElement('span');
      badge(b, i.status);
      st.appendChild(b);
      tr.appendChild(st);
      cell(money(i.amount, i.currency), 'num');
      const c = i.customer || {};
      cell(c.name ? `${c.name} · ${c.phone_number}` : c.phone_number || '—');
      cell(i.reference || '—');
      cell(clock(i.updated_at), 'mono');
      tr.addEventListener('click', (ev) => {
        if (ev.target === tr || ev.target.tagName === 'TD') {
          select(i.id);
        }
      });
      return tr;
    });
    body.replaceChildren(...rows);
    show($('intent-empty'), rows.length === 0);
    $('intent-empty').textContent = $('filter-status').value
      ? `No intents with status ${$('filter-status').value}.` : 'No payment intents yet.';
    markSelectedRow();
    if (focusedId) {
      const again = body.querySelector(`button[data-id="${CSS.escape(focusedId)}"]`);
      if (again) {
        again.focus();
      }
    }
    renderOverview();
  }

  function markSelectedRow() {
    for (const tr of $('intent-rows').children) {
      tr.classList.toggle('selected', tr.dataset.id === state.selectedId);
      if (tr.dataset.id === state.selectedId) {
        tr.setAttribute('aria-current', 'true');
      } else {
        tr.removeAttribute('aria-current');
      }
    }
  }

  function renderSelected() {
    const i = state.selected;
    show($('sel-empty'), !i);
    /* The review, the lab and the timeline are always shown: with no
     * intent selected they say what will appear there. */
    show($('sel-body'), true);
    if (!i) {
      badge($('sel-status'), '');
      for (const id of ['sel-id', 'sel-amount', 'sel-customer', 'sel-reference', 'sel-next',
                        'sel-checkout', 'sel-receipt', 'sel-result']) {
        setText(id, null);
      }
      show($('recovery'), false);
      show($('recovery-none'), true);
      $('recovery-none').textContent = 'Select an intent: its recovery summary, the agent\'s ' +
        'note and the actions it allows appear here.';
      for (const b of document.querySelectorAll('#sel-body button')) {
        b.disabled = true;
      }
      const tl = $('timeline');
      if (!tl.children.length) {
        const li = document.createElement('li');
        li.className = 'empty';
        li.dataset.testid = 'timeline-empty';
        li.textContent = 'Select an intent to see its events, oldest first: each state change, ' +
          'provider result and operator action.';
        tl.replaceChildren(li);
      }
      return;
    }
    badge($('sel-status'), i.status);
    setText('sel-id', i.id);
    setText('sel-amount', money(i.amount, i.currency));
    const c = i.customer || {};
    setText('sel-customer', c.name ? `${c.name} · ${c.phone_number}` : c.phone_number);
    setText('sel-reference', [i.reference, i.description].filter(Boolean).join(' · '));
    /* The merchant's own keys and values, as text (never markup). */
    setText('sel-metadata', Object.entries(i.metadata || {}).map(([k, v]) => `${k}: ${v}`).join(' · '));
    setText('sel-next', i.next_action);
    setText('sel-checkout', i.provider_action && i.provider_action.checkout_request_id);
    setText('sel-receipt', i.receipt);
    const pr = i.provider_result;
    setText('sel-result', pr ? `${pr.code}${pr.description ? ` · ${pr.description}` : ''}` : null);

    const rec = i.recovery;
    show($('recovery'), !!rec);
    show($('recovery-none'), !rec);
    if (rec) {
      setText('rec-action', rec.recommended_action);
      setText('rec-retry', rec.retry_allowed ? 'yes' : 'no');
      setText('rec-used', rec.attempts_used);
      setText('rec-left', rec.attempts_left);
      setText('agent-note', rec.agent_note || (i.agent_policy === 'none'
        ? 'No agent note (agent_policy none).' : 'No agent note.'));
    } else {
      $('recovery-none').textContent = TERMINAL.has(i.status)
        ? `Closed: ${i.status}. Nothing to recover.` : 'No recovery needed.';
    }
    const live = state.workspace && state.workspace.livemode;
    $('act-confirm').disabled = i.status !== 'draft';
    $('act-retry').disabled = i.status !== 'requires_recovery';
    $('act-cancel').disabled = TERMINAL.has(i.status);
    $('act-resolve').disabled = i.status !== 'review_required';
    for (const b of document.querySelectorAll('.lab button')) {
      b.disabled = !!live || i.status === 'draft';
    }
    markSelectedRow();
  }

  function renderTimeline(list) {
    const data = (list && Array.isArray(list.data)) ? list.data : [];
    const sig = data.map((e) => e.id).join(',');
    if (sig === state.eventsSig) {
      return;
    }
    state.eventsSig = sig;
    const items = data.map((e) => {
      const d = e.data || {};
      const li = document.createElement('li');
      li.setAttribute('data-testid', 'event');
      li.dataset.type = e.type;
      const head = document.createElement('div');
      head.className = 'ev-head';
      const t = document.createElement('time');
      t.dateTime = e.created_at;
      t.textContent = clock(e.created_at);
      const type = document.createElement('span');
      type.className = 'ev-type';
      type.textContent = e.type;
      head.append(t, type);
      if (d.status) {
        const b = document.createElement('span');
        badge(b, d.status);
        head.appendChild(b);
      }
      li.appendChild(head);
      const parts = [];
      if (d.reason) {
        parts.push(`reason ${d.reason}`);
      }
      if (d.provider_result_code !== null && d.provider_result_code !== undefined) {
        parts.push(`result ${d.provider_result_code}${d.provider_result_desc ? ` · ${d.provider_result_desc}` : ''}`);
      }
      if (d.checkout_request_id) {
        parts.push(d.checkout_request_id);
      }
      if (d.receipt) {
        parts.push(`receipt ${d.receipt}`);
      }
      if (parts.length) {
        const p = document.createElement('div');
        p.className = 'ev-detail';
        p.textContent = parts.join(' · ');
        li.appendChild(p);
      }
      if (d.agent_note) {
        const n = document.createElement('div');
        n.className = 'ev-note';
        n.textContent = `Agent: ${d.agent_note}`;
        li.appendChild(n);
      }
      return li;
    });
    if (items.length === 0) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = 'No events yet.';
      items.push(li);
    }
    $('timeline').replaceChildren(...items);
  }

  /* ---- selection ------------------------------------------------------------ */

  function select(id) {
    if (state.selectedId !== id) {
      state.selectedId = id;
      state.selected = null;
      state.eventsSig = '';
      $('timeline').replaceChildren();
      formError('action-error', null);
      formError('lab-error', null);
    }
    const known = state.intents.find((i) => i.id === id);
    if (known) {
      state.selected = known;
      renderSelected();
    }
    markSelectedRow();
    refreshSoon();
  }

  /* Shows an intent an action returned, then refreshes everything. */
  function adopt(intent) {
    state.mutations++;
    if (intent && intent.id) {
      state.selectedId = intent.id;
      state.selected = intent;
      renderSelected();
    }
    state.listSig = '';
    refreshSoon();
  }

  /* ---- operator actions ----------------------------------------------------- */

  /* Runs fn with the button disabled (no double submit), then lets the
   * renderers decide which buttons the new state allows. */
  async function busy(button, fn) {
    if (button.getAttribute('aria-busy') === 'true') {
      return;
    }
    button.setAttribute('aria-busy', 'true');
    const was = button.disabled;
    button.disabled = true;
    try {
      await fn();
    } finally {
      button.removeAttribute('aria-busy');
      button.disabled = was;
      if (state.selected) {
        renderSelected();
      }
      renderDraftButtons();
    }
  }

  async function action(name, body, errorId) {
    const id = state.selectedId;
    if (!id) {
      return;
    }
    formError(errorId, null);
    try {
      const intent = await api('POST', `/payment-intents/${encodeURIComponent(id)}/${name}`, body || {});
      announce(`${name}: ${intent.id} is now ${intent.status}`);
      adopt(intent);
      return intent;
    } catch (err) {
      formError(errorId, err);
      announce(`${name} failed: ${describe(err)}`);
      return null;
    }
  }

  function wireActions() {
    $('act-confirm').addEventListener('click', (e) => busy(e.currentTarget, () => action('confirm', {}, 'action-error')));
    $('act-retry').addEventListener('click', (e) => busy(e.currentTarget, () => action('retry', {}, 'action-error')));
    $('act-cancel').addEventListener('click', (e) => busy(e.currentTarget, () => action('cancel', {}, 'action-error')));
    $('resolve-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const body = { outcome: $('r-outcome').value };
      const receipt = $('r-receipt').value.trim();
      const note = $('r-note').value.trim();
      if (receipt) {
        body.receipt = receipt;
      }
      if (note) {
        body.note = note;
      }
      busy($('act-resolve'), () => action('resolve', body, 'action-error'));
    });

    /* The outcome lab: simulate-callback with a preset or any code. */
    for (const b of document.querySelectorAll('button.outcome')) {
      b.addEventListener('click', () => busy(b, () => action('simulate-callback',
        { result_code: b.dataset.code, result_desc: b.dataset.desc }, 'lab-error')));
    }
    $('lab-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const code = $('lab-code').value.trim();
      const body = { result_code: code };
      const desc = $('lab-desc').value.trim();
      if (desc) {
        body.result_desc = desc;
      }
      busy($('lab-apply'), () => action('simulate-callback', body, 'lab-error'));
    });
  }

  /* ---- instruction ---------------------------------------------------------- */

  function renderDraft(answer) {
    const d = answer.draft;
    state.draftId = d.id;
    setText('draft-amount', money(d.amount, d.currency));
    setText('draft-phone', d.customer && d.customer.phone_number);
    setText('draft-reference', d.reference);
    setText('draft-description', d.description);
    setText('draft-id', d.id);
    $('draft-nu').textContent = answer.not_understood
      ? `Not understood: ${answer.not_understood}` : 'Everything in the instruction was understood.';
    $('draft-nu').classList.toggle('warn', !!answer.not_understood);
    state.draftStatus = d.status;
    renderDraftButtons();
    show($('draft'), true);
  }

  function renderDraftButtons() {
    const open = state.draftId !== null && state.draftStatus === 'draft';
    $('draft-confirm').disabled = !open;
    $('draft-discard').disabled = !open;
  }

  function wireInstruction() {
    $('instr-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const text = $('instr-text').value.trim();
      formError('instr-error', null);
      busy($('instr-submit'), async () => {
        try {
          const answer = await api('POST', '/instructions', { text });
          renderDraft(answer);
          announce(`draft ${answer.draft.id} made from the instruction`);
          adopt(answer.draft);
        } catch (err) {
          show($('draft'), false);
          formError('instr-error', err);
        }
      });
    });
    const draftAction = (name) => async () => {
      if (!state.draftId) {
        return;
      }
      state.selectedId = state.draftId;
      const intent = await action(name, {}, 'instr-error');
      if (intent) {
        state.draftStatus = intent.status;
        $('draft-nu').textContent = name === 'confirm'
          ? `Confirmed: the prompt was sent (${intent.status}).` : `Discarded: ${intent.status}.`;
      }
    };
    $('draft-confirm').addEventListener('click', (e) => busy(e.currentTarget, draftAction('confirm')));
    $('draft-discard').addEventListener('click', (e) => busy(e.currentTarget, draftAction('cancel')));

    /* Speech: only where the browser has it. */
    const SR = window.SpeechRecognition || window.webkitSpeechRecognition;
    const mic = $('instr-mic');
    if (typeof SR !== 'function') {
      show(mic, false);
      return;
    }
    show(mic, true);
    let rec = null;
    const micStatus = (t) => { $('instr-mic-status').textContent = t; };
    mic.addEventListener('click', () => {
      if (rec) {
        rec.stop();
        return;
      }
      try {
        rec = new SR();
      } catch (err) {
        micStatus(`Speech recognition is not available: ${err.message}`);
        return;
      }
      rec.lang = 'en-KE';
      rec.interimResults = true;
      rec.maxAlternatives = 1;
      rec.onresult = (ev) => {
        let text = '';
        for (const r of ev.results) {
          text += r[0].transcript;
        }
        $('instr-text').value = text;
      };
      rec.onerror = (ev) => {
        const why = {
          'not-allowed': 'the microphone permission was refused',
          'no-speech': 'no speech was heard',
          network: 'the speech service could not be reached',
          'audio-capture': 'no microphone was found',
        }[ev.error] || ev.error;
        micStatus(`Speech recognition stopped: ${why}. You can type the instruction instead.`);
      };
      rec.onend = () => {
        rec = null;
        mic.setAttribute('aria-pressed', 'false');
        mic.textContent = 'Speak';
      };
      mic.setAttribute('aria-pressed', 'true');
      mic.textContent = 'Stop';
      micStatus('Listening… speak the instruction, then review the text and make the draft.');
      rec.start();
    });
  }

  /* ---- create --------------------------------------------------------------- */

  const CREATE_FIELDS = ['c-amount', 'c-currency', 'c-phone', 'c-name', 'c-reference',
                         'c-description', 'c-policy'];

  function wireCreate() {
    $('c-key').value = newIdempotencyKey();
    $('c-key-new').addEventListener('click', () => { $('c-key').value = newIdempotencyKey(); });
    /* The key belongs to the form's contents: it changes when they do,
     * never merely because a create succeeded. So a second click on the
     * same form (a double click, an impatient retry) replays the first
     * request and gets the same intent back, instead of making a second
     * intent and a second prompt on the customer's phone. */
    for (const id of CREATE_FIELDS) {
      const el = $(id);
      /* Only a key that was sent is renewed: an unused one fits any
       * contents. */
      const renew = () => {
        if (el.dataset.sent !== undefined && el.value !== el.dataset.sent) {
          $('c-key').value = newIdempotencyKey();
          for (const other of document.querySelectorAll('#create-form [data-sent]')) {
            delete other.dataset.sent;
          }
        }
      };
      el.addEventListener('input', renew);
      el.addEventListener('change', renew);
    }
    $('create-form').addEventListener('submit', (e) => {
      e.preventDefault();
      formError('create-error', null);
      const body = { currency: $('c-currency').value, provider: 'mpesa', customer: {} };
      const amount = $('c-amount').value.trim();
      if (amount !== '') {
        /* Sent as typed (a number): the API decides what is valid. */
        body.amount = Number(amount);
      }
      const phone = $('c-phone').value.trim();
      if (phone) {
        body.customer.phone_number = phone;
      }
      const name = $('c-name').value.trim();
      if (name) {
        body.customer.name = name;
      }
      for (const [field, id] of [['reference', 'c-reference'], ['description', 'c-description']]) {
        const v = $(id).value.trim();
        if (v) {
          body[field] = v;
        }
      }
      body.agent_policy = $('c-policy').value;
      const key = $('c-key').value;
      busy($('create-submit'), async () => {
        try {
          /* Remember what is sent under this key (see wireCreate). */
          for (const id of CREATE_FIELDS) {
            $(id).dataset.sent = $(id).value;
          }
          const intent = await api('POST', '/payment-intents', body, { 'Idempotency-Key': key });
          announce(`created ${intent.id}: ${intent.status}`);
          adopt(intent);
        } catch (err) {
          formError('create-error', err);
          /* Keep the key after a network failure or a 5xx (nothing stored
           * or unknown: resending under it is safe); a refused request
           * gets a fresh key for the corrected one. */
          if (err instanceof ApiError && err.status >= 400 && err.status < 500 &&
              err.code !== 'idempotent_request_in_flight') {
            $('c-key').value = newIdempotencyKey();
            for (const id of CREATE_FIELDS) {
              delete $(id).dataset.sent;
            }
          }
        }
      });
    });
  }

  /* ---- webhooks -------------------------------------------------------------- */

  /* Endpoints, and the newest deliveries (the API lists them oldest
   * first: read up to 300 and show the last 20, newest on top). A failure
   * here is shown in the panel and never stops the rest of the page. */
  async function refreshWebhooks(gen) {
    let endpoints;
    const deliveries = [];
    try {
      endpoints = (await api('GET', '/webhook-endpoints')).data;
      let cursor = null;
      for (let page = 0; page < 3; page++) {
        const q = new URLSearchParams({ limit: '100' });
        if (cursor) {
          q.set('cursor', cursor);
        }
        const got = await api('GET', `/webhook-deliveries?${q}`);
        deliveries.push(...got.data);
        if (!got.has_more || got.data.length === 0) {
          break;
        }
        cursor = got.data[got.data.length - 1].id;
      }
    } catch (err) {
      if (gen === state.generation && !(err instanceof ApiError && err.status === 401)) {
        formError('wh-error', err);
      }
      return;
    }
    if (gen !== state.generation) {
      return;
    }
    renderWebhooks(endpoints, deliveries.slice(-20).reverse());
  }

  function whButton(label, act, id, testid, cls) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.act = act;
    b.dataset.id = id;
    b.dataset.testid = testid;
    b.className = `small ${cls || 'ghost'}`;
    return b;
  }

  function renderWebhooks(endpoints, deliveries) {
    const sig = JSON.stringify([endpoints, deliveries]);
    if (sig === state.whSig) {
      return;
    }
    state.whSig = sig;
    const list = $('wh-endpoints');
    list.replaceChildren(...endpoints.map((ep) => {
      const li = document.createElement('li');
      li.dataset.testid = 'wh-endpoint';
      li.dataset.id = ep.id;
      const head = document.createElement('div');
      head.className = 'row';
      const st = document.createElement('span');
      badge(st, ep.status);
      const url = document.createElement('span');
      url.className = 'wh-url grow';
      url.textContent = ep.url;
      head.append(st, url);
      const meta = document.createElement('div');
      meta.className = 'hint';
      const scheme = { all: 'all signature headers', constra: 'Constra-Signature only',
        standard_webhooks: 'Standard Webhooks only' }[ep.scheme] || ep.scheme || 'all signature headers';
      meta.textContent = `${ep.id} · ${ep.enabled_events.join(', ')} · ${scheme} · since ${clock(ep.created_at)}`;
      const parts = [head];
      if (ep.description) {
        const desc = document.createElement('div');
        desc.className = 'wh-desc';
        desc.dataset.testid = 'wh-endpoint-desc';
        desc.textContent = ep.description;
        parts.push(desc);
      }
      const acts = document.createElement('div');
      acts.className = 'row';
      acts.append(
        whButton('Send test', 'test', ep.id, 'wh-test'),
        whButton('Rotate secret', 'rotate', ep.id, 'wh-rotate'),
        whButton(ep.status === 'enabled' ? 'Disable' : 'Enable',
          ep.status === 'enabled' ? 'disable' : 'enable', ep.id, 'wh-toggle'),
        whButton('Delete', 'delete', ep.id, 'wh-delete', 'ghost danger'));
      li.append(...parts, meta, acts);
      return li;
    }));
    show($('wh-ep-empty'), endpoints.length === 0);
    const rows = $('wh-deliveries');
    rows.replaceChildren(...deliveries.map((d) => {
      const tr = document.createElement('tr');
      tr.dataset.testid = 'wh-delivery';
      tr.dataset.id = d.id;
      tr.dataset.status = d.status;
      const cells = [d.event_type, null, String(d.attempt_count),
        d.last_http_status === null ? (d.last_error || '—') : String(d.last_http_status),
        d.next_attempt_at ? clock(d.next_attempt_at) : '—'];
      for (const [i, text] of cells.entries()) {
        const td = document.createElement('td');
        if (i === 1) {
          const b = document.createElement('span');
          badge(b, d.status);
          td.append(b);
        } else {
          td.textContent = text;
        }
        tr.append(td);
      }
      const td = document.createElement('td');
      if (d.status !== 'pending') {
        td.append(whButton('Replay', 'replay', d.id, 'wh-replay'));
      }
      tr.append(td);
      return tr;
    }));
    show($('wh-dl-empty'), deliveries.length === 0);
  }

  function showSecret(ep, what) {
    $('wh-secret').textContent = ep.secret;
    $('wh-secret-note').textContent = [what, ep.url_note].filter(Boolean).join(' · ');
    show($('wh-secret-box'), true);
  }

  function hideSecret() {
    $('wh-secret').textContent = '';
    $('wh-secret-note').textContent = '';
    show($('wh-secret-box'), false);
  }

  async function webhookAction(button) {
    const id = button.dataset.id;
    const act = button.dataset.act;
    const path = act === 'replay' ? `/webhook-deliveries/${encodeURIComponent(id)}/replay`
      : act === 'delete' ? `/webhook-endpoints/${encodeURIComponent(id)}`
        : `/webhook-endpoints/${encodeURIComponent(id)}/${act === 'rotate' ? 'rotate-secret' : act}`;
    formError('wh-error', null);
    await busy(button, async () => {
      try {
        const answer = await api(act === 'delete' ? 'DELETE' : 'POST', path);
        if (act === 'rotate') {
          showSecret(answer, 'new secret: the old one still signs for 24 hours');
        }
        announce({ test: `test event queued (${answer.id})`, replay: `delivery ${id} queued again`,
          delete: `endpoint ${id} deleted`, rotate: `secret of ${id} rotated`,
          enable: `endpoint ${id} enabled`, disable: `endpoint ${id} disabled` }[act]);
      } catch (err) {
        formError('wh-error', err);
      }
      state.whSig = '';
      refreshSoon();
    });
  }

  function wireWebhooks() {
    $('wh-form').addEventListener('submit', (e) => {
      e.preventDefault();
      formError('wh-error', null);
      const url = $('wh-url').value.trim();
      const description = $('wh-desc').value.trim();
      const scheme = $('wh-scheme').value;
      busy($('wh-add'), async () => {
        try {
          const body = { url, scheme };
          if (description) body.description = description;
          const ep = await api('POST', '/webhook-endpoints', body);
          $('wh-url').value = '';
          $('wh-desc').value = '';
          showSecret(ep, `endpoint ${ep.id}`);
          announce(`webhook endpoint ${ep.id} added`);
        } catch (err) {
          formError('wh-error', err);
        }
        state.whSig = '';
        refreshSoon();
      });
    });
    for (const box of ['wh-endpoints', 'wh-deliveries']) {
      $(box).addEventListener('click', (e) => {
        const b = e.target.closest('button[data-act]');
        if (b) {
          webhookAction(b);
        }
      });
    }
    $('wh-copy').addEventListener('click', () => copyFrom($('wh-secret'), 'secret'));
    $('wh-secret-done').addEventListener('click', hideSecret);
  }

  /* Copies an element's text; without a clipboard (plain http) selects it
   * for Ctrl+C instead. */
  async function copyFrom(el, what) {
    try {
      await navigator.clipboard.writeText(el.textContent);
      announce(`${what} copied`);
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents(el);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      announce(`${what} selected: press Ctrl+C to copy`);
    }
  }

  /* ---- integrate: the same loop from code --------------------------------- */

  /* The key is never written into a snippet: each reads it from the
   * environment, as the remote clients do (constra_remote_config_from_env). */
  function snippet(lang, base) {
    const body = '{"amount": 1250, "currency": "KES", "customer": {"phone_number": "254708374149"}, ' +
      '"reference": "order_7429", "description": "Solar home kit deposit", ' +
      '"metadata": {"order_id": "7429"}}';
    switch (lang) {
      case 'python':
        return 'import os\nfrom constra import Client\n\n' +
          `os.environ.setdefault("CONSTRA_API_BASE_URL", "${base}")\n` +
          '# CONSTRA_SECRET_KEY: this workspace\'s key, from your secret store\n' +
          'client = Client.from_env()\n' +
          'pi = client.create(1250, idempotency_key="order_7429-1", phone_number="254708374149",\n' +
          '                   reference="order_7429", description="Solar home kit deposit",\n' +
          '                   metadata={"order_id": "7429"})\n' +
          'print(pi["id"], pi["status"])  # pending_user_action: the prompt is on the phone';
      case 'node':
        return "const { Client } = require('constra');\n\n" +
          `process.env.CONSTRA_API_BASE_URL ??= '${base}';\n` +
          "// CONSTRA_SECRET_KEY: this workspace's key, from your secret store\n" +
          'const client = Client.fromEnv();\n' +
          "const pi = await client.create({ amount: 1250, currency: 'KES', phoneNumber: '254708374149',\n" +
          "  reference: 'order_7429', metadata: { order_id: '7429' } }, { idempotencyKey: 'order_7429-1' });\n" +
          'console.log(pi.id, pi.status);';
      case 'c':
        return `/* CONSTRA_API_BASE_URL=${base} and CONSTRA_SECRET_KEY in the environment */\n` +
          'constra_remote_config cfg = CONSTRA_REMOTE_CONFIG_INIT;\n' +
          'constra_remote_config_from_env(&cfg, NULL, NULL, &err);\n' +
          'constra_open_remote(&h, &cfg, &err);\n' +
          'constra_intent_params p = CONSTRA_INTENT_PARAMS_INIT;\n' +
          'p.amount = 1250; p.currency = "KES"; p.phone_number = "254708374149";\n' +
          'p.reference = "order_7429"; p.metadata = "{\\"order_id\\":\\"7429\\"}";\n' +
          'constra_intent_create(h, &p, "order_7429-1", &pi, &err);';
      default:
        return `curl -sS -X POST ${base}/payment-intents \\\n` +
          '  -H "Authorization: Bearer $CONSTRA_SECRET_KEY" \\\n' +
          '  -H "Idempotency-Key: order_7429-1" \\\n' +
          '  -H "Content-Type: application/json" \\\n' +
          `  -d '${body}'`;
    }
  }

  function renderIntegrate() {
    const base = `${location.origin}${API}`;
    setText('int-base', base);
    setText('int-snippet', snippet(state.snippet || 'curl', base));
    for (const b of document.querySelectorAll('[data-snippet]')) {
      b.setAttribute('aria-selected', String(b.dataset.snippet === (state.snippet || 'curl')));
    }
    const policy = (state.workspace && state.workspace.retry_policy) || {};
    setText('cb-timeout', policy.callback_timeout_ms ? duration(policy.callback_timeout_ms) : 'the time-out');
    setText('exec-attempts', policy.max_attempts || 'the attempt limit');
    setText('exec-retention', policy.idempotency_retention_ms ? duration(policy.idempotency_retention_ms) : 'its retention');
    const cb = (state.overview && state.overview.callbacks) || {};
    setText('cb-refused', cb.refused || 0);
    setText('cb-duplicates', cb.duplicates || 0);
    setText('cb-unmatched', cb.unmatched || 0);
  }

  function wireIntegrate() {
    for (const b of document.querySelectorAll('[data-snippet]')) {
      b.addEventListener('click', () => {
        state.snippet = b.dataset.snippet;
        renderIntegrate();
      });
    }
    $('int-copy').addEventListener('click', () => copyFrom($('int-snippet'), 'snippet'));
    renderIntegrate();
  }

  /* ---- start ---------------------------------------------------------------- */

  function init() {
    document.documentElement.classList.add('js');
    $('banner-close').addEventListener('click', () => clearBanner(false));
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = $('key-input').value.trim();
      $('key-input').value = '';
      useKey(key);
    });
    $('key-forget').addEventListener('click', () => {
      $('key-input').value = '';
      clearBanner(false);
      useKey(null);
    });
    $('filter-status').addEventListener('change', () => {
      state.listSig = '';
      refreshSoon();
    });
    wireActions();
    wireInstruction();
    wireCreate();
    wireWebhooks();
    wireIntegrate();
    renderSelected();
    const key = loadKey();
    if (key) {
      useKey(key);
    } else {
      keyStatus('none', 'no key entered');
      $('key-input').focus();
    }
    /* A #key=... link pasted into this open tab takes effect at once. */
    window.addEventListener('hashchange', () => {
      if (new URLSearchParams(location.hash.replace(/^#/, '')).get('key')) {
        useKey(loadKey());
      }
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) {
        refreshSoon();
      }
    });
  }

  init();
})();
