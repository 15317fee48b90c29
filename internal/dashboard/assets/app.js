// EMQX dashboard: hash-routed pages on the management API (/api/v4).
// Plain ES2020, no libraries, nothing fetched from outside the node.
// Every list pages through the API (_page/_limit), so a cluster with many
// clients costs one page per view, never the whole table.
'use strict';
(() => {
  const API = '/api/v4';
  const OVERVIEW_EVERY = 2000; // ms between refreshes of the overview
  const HISTORY_EVERY = 5000; // the monitor samples every 5 s
  const LIMITS = [10, 20, 50, 100];

  // ---- DOM helpers: every text goes through textContent, never innerHTML.
  const $ = (sel, root = document) => root.querySelector(sel);
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'hidden' || k === 'disabled' || k === 'selected' || k === 'required') el[k] = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    add(el, kids);
    return el;
  }
  function add(el, kids) {
    for (const k of kids) {
      if (k === undefined || k === null || k === false) continue;
      if (Array.isArray(k)) add(el, k);
      else el.append(k instanceof Node ? k : String(k));
    }
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const k of kids) el.append(k instanceof Node ? k : String(k));
    return el;
  }

  // ---- formatting
  const nf = new Intl.NumberFormat('en-US');
  const fmtNum = (v) => (typeof v === 'number' && isFinite(v) ? nf.format(v) : v ?? '');
  function fmtRate(v) {
    if (v === undefined || v === null || !isFinite(v)) return '–';
    return v < 10 ? v.toFixed(1) : nf.format(Math.round(v));
  }
  // A timestamp in seconds, milliseconds or microseconds (EMQX uses all three).
  function toMs(v) {
    if (typeof v !== 'number') return NaN;
    if (v > 1e14) return v / 1000;
    if (v > 1e11) return v;
    return v * 1000;
  }
  const pad2 = (n) => String(n).padStart(2, '0');
  function fmtTime(v) {
    if (typeof v === 'string') return v;
    const ms = toMs(v);
    if (!isFinite(ms)) return '';
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  function fmtClock(ms) {
    const d = new Date(ms);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  function fmtBytes(v) {
    if (typeof v !== 'number') return v ?? '';
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return `${i ? v.toFixed(1) : v} ${u[i]}`;
  }
  const fmtBool = (v) => (v ? 'true' : 'false');
  function fmtAny(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  const enc = encodeURIComponent;

  // ---- the API
  class ApiError extends Error {
    constructor(message, code, status) { super(message); this.code = code; this.status = status; }
  }
  function qs(params) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
    const q = p.toString();
    return q ? '?' + q : '';
  }
  // api makes one request; the answer is {code:0, data, meta} or it throws.
  // Every request carries X-Requested-With (the server's CSRF guard).
  async function api(method, path, body, { login = false } = {}) {
    const opts = { method, credentials: 'same-origin', headers: { 'X-Requested-With': 'XMLHttpRequest', Accept: 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(API + path, opts);
    } catch (e) {
      throw new ApiError('the node does not answer: ' + e.message, -1, 0);
    }
    if (r.status === 401 && !login) {
      showLogin();
      throw new ApiError('not logged in', -1, 401);
    }
    let j;
    try { j = await r.json(); } catch { throw new ApiError(`HTTP ${r.status}`, -1, r.status); }
    if (j.code !== 0) throw new ApiError(j.message || `error code ${j.code}`, j.code, r.status);
    return j;
  }
  const get = (path) => api('GET', path);

  // ---- session
  const state = { me: null, mnesia: false, prevMetrics: null, rates: {} };
  window.__dash = { renderedAt: {} }; // when each view first showed its data (ms since navigation start), for the tests

  function markRendered(view) {
    if (window.__dash.renderedAt[view] === undefined) {
      window.__dash.renderedAt[view] = performance.now();
      performance.mark('rendered-' + view);
    }
    if (!state.pluginsChecked) { // after the first data: it does not hold up the page
      state.pluginsChecked = true;
      checkPlugins();
    }
  }

  function showLogin() {
    gen++; // stops the current view's refreshes
    state.me = null;
    state.booting = false;
    state.pluginsChecked = false;
    $('#app').hidden = true;
    $('#view').replaceChildren();
    $('#login').hidden = false;
    $('#login-password').value = '';
    $('#login-username').focus();
  }
  // showApp shows the pages to a logged-in user; routed: the view is
  // already loading (boot starts it while the session is checked).
  function showApp(me, routed = false) {
    state.me = me;
    state.booting = false;
    $('#login').hidden = true;
    $('#login-error').hidden = true;
    $('#app').hidden = false;
    $('#whoami').textContent = me.username;
    const warn = $('#default-password-warning');
    warn.hidden = !me.default_password;
    $('.user', warn).textContent = me.username;
    if (!routed) route();
  }
  async function checkPlugins() {
    try {
      const { data } = await get('/plugins');
      state.mnesia = (data || []).some((n) => (n.plugins || []).some((p) => p.name === 'emqx_auth_mnesia' && p.active));
    } catch {
      state.mnesia = false;
    }
    for (const a of document.querySelectorAll('#nav a.mnesia')) a.hidden = !state.mnesia;
  }

  async function login(ev) {
    ev.preventDefault();
    const err = $('#login-error');
    const btn = $('#login-submit');
    err.hidden = true;
    btn.disabled = true;
    try {
      const { data } = await api('POST', '/auth/login', { username: $('#login-username').value, password: $('#login-password').value }, { login: true });
      showApp(data);
    } catch (e) {
      // 429: too many failures from this address, the answer says how long to wait.
      err.textContent = e.status !== 429 && (e.code === 103 || e.status === 401) ? 'Wrong username or password' : e.message;
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  }
  async function logout() {
    try { await api('POST', '/auth/logout', undefined, { login: true }); } catch { /* logged out anyway */ }
    history.replaceState(null, '', location.pathname);
    showLogin();
  }

  // The password: PUT /change_pwd/<user> (emqx_dashboard_api); the other
  // sessions of the user end, this one stays.
  function openPassword() {
    $('#password-form').reset();
    $('#pw-error').hidden = true;
    $('#password-dialog').showModal();
    $('#pw-old').focus();
  }
  async function changePassword(ev) {
    ev.preventDefault();
    const err = $('#pw-error');
    const show = (msg) => { err.textContent = msg; err.hidden = false; };
    const next = $('#pw-new').value;
    if (next !== $('#pw-confirm').value) return show('The new passwords differ');
    const btn = $('#pw-submit');
    btn.disabled = true;
    try {
      await api('PUT', '/change_pwd/' + enc(state.me.username), { old_pwd: $('#pw-old').value, new_pwd: next });
      $('#password-dialog').close();
      const { data } = await get('/auth/me');
      state.me = data;
      $('#default-password-warning').hidden = !data.default_password;
      flash('Password changed');
    } catch (e) {
      show(e.message === 'Username/Password error' ? 'The current password is wrong' : e.message);
    } finally {
      btn.disabled = false;
    }
  }

  // ---- feedback
  let flashTimer = 0;
  function flash(msg, kind = 'ok') {
    const el = $('#flash');
    el.textContent = msg;
    el.className = 'banner ' + kind;
    el.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { el.hidden = true; }, kind === 'err' ? 8000 : 4000);
  }
  // confirmBox asks in the page's own dialog (no window.confirm).
  function confirmBox(text, okLabel = 'OK') {
    const d = $('#confirm');
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = okLabel;
    d.returnValue = '';
    return new Promise((resolve) => {
      d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
      d.showModal();
      $('#confirm-ok').focus();
    });
  }
  // act runs a state-changing request after a confirmation, reports its
  // outcome and then calls done.
  async function act(question, okLabel, run, doneMsg, done) {
    if (question && !(await confirmBox(question, okLabel))) return;
    try {
      await run();
      if (doneMsg) flash(doneMsg);
      if (done) await done();
    } catch (e) {
      flash(e.message, 'err');
    }
  }

  // ---- router: #/<view>/<arg>?<params>
  let gen = 0;
  const views = {};
  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const i = raw.indexOf('?');
    const path = i < 0 ? raw : raw.slice(0, i);
    const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
    return { name: parts[0] || 'overview', args: parts.slice(1), params: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
  }
  function go(name, params, ...args) {
    const path = '#/' + [name, ...args.map(enc)].join('/') + qs(params || {});
    if (location.hash === path) route();
    else location.hash = path;
  }
  function route() {
    if (!state.me && !state.booting) return;
    const r = parseHash();
    const my = ++gen;
    const ctx = {
      ...r,
      live: () => my === gen,
      // every runs fn now and then ms after each run ends, while the view is shown.
      every(ms, fn) {
        const tick = async () => {
          if (!ctx.live()) return;
          try { await fn(); } catch (e) { if (ctx.live() && e.status !== 401) showError(e); }
          if (ctx.live()) setTimeout(tick, document.hidden ? Math.max(ms, 10000) : ms);
        };
        tick();
      },
    };
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.route === r.name);
    const view = views[r.name] || views.overview;
    const root = $('#view');
    root.replaceChildren();
    root.dataset.view = r.name;
    Promise.resolve(view(root, ctx)).catch((e) => { if (ctx.live() && e.status !== 401) showError(e); });
  }
  function showError(e) { flash(e.message, 'err'); }

  // ---- building blocks
  function table(id, columns, rows, rowAttrs, empty = 'Nothing here') {
    const body = rows.length
      ? rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : null, columns.map((c) => h('td', { class: c.cls }, c.get(r)))))
      : [h('tr', null, h('td', { class: 'empty', colspan: columns.length }, empty))];
    return h('table', { id },
      h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.cls }, c.title)))),
      h('tbody', null, body));
  }
  function pageParams(params) {
    const page = Math.max(1, parseInt(params.get('page'), 10) || 1);
    let limit = parseInt(params.get('limit'), 10) || 20;
    if (!LIMITS.includes(limit)) limit = 20;
    return { page, limit };
  }
  // pager shows where a list is and moves to the page before or after it.
  function pager(prefix, meta, onPage, limit, onLimit) {
    const page = meta.page || 1;
    const hasnext = meta.hasnext !== undefined ? meta.hasnext : (meta.count ?? 0) > page * (meta.limit || limit);
    const count = typeof meta.count === 'number' && meta.count >= 0 ? `${fmtNum(meta.count)} in all` : '';
    return h('div', { class: 'pager' },
      h('button', { id: prefix + '-prev', type: 'button', disabled: page <= 1, onclick: () => onPage(page - 1) }, '‹ Prev'),
      h('span', { id: prefix + '-page', 'data-page': page }, `Page ${page}`, count && ` · ${count}`),
      h('button', { id: prefix + '-next', type: 'button', disabled: !hasnext, onclick: () => onPage(page + 1) }, 'Next ›'),
      h('label', { class: 'inline' }, 'Per page',
        h('select', { id: prefix + '-limit', onchange: (e) => onLimit(parseInt(e.target.value, 10)) },
          LIMITS.map((l) => h('option', { value: l, selected: l === limit }, l)))));
  }
  function field(id, label, value, attrs) {
    return h('label', null, label, h('input', { id, value: value || '', ...attrs }));
  }
  function sel(id, label, options, value) {
    return h('label', null, label, h('select', { id }, options.map((o) => h('option', { value: o, selected: o === value }, o))));
  }
  function statusBadge(st) {
    const ok = st === 'Running';
    return h('span', { class: 'status ' + (ok ? 'ok' : 'bad'), 'data-testid': 'node-status' }, st || 'Unknown');
  }
  // pagedList renders a toolbar, a page of rows and a pager. load(page,
  // limit) returns {data, meta}; the page and limit live in the hash.
  async function pagedList(root, ctx, o) {
    const { page, limit } = pageParams(ctx.params);
    const setParams = (extra) => {
      const p = Object.fromEntries(ctx.params);
      go(ctx.name, { ...p, ...extra }, ...ctx.args);
    };
    const box = h('div', { id: o.id + '-box' }, h('p', { class: 'muted' }, 'Loading…'));
    root.append(box);
    const reload = async () => {
      const { data, meta } = await o.load(page, limit);
      if (!ctx.live()) return;
      const rows = Array.isArray(data) ? data : [];
      box.replaceChildren(
        table(o.id, o.columns(reload), rows, o.rowAttrs, o.empty),
        pager(o.id, { page, limit, ...(meta || {}) }, (p) => setParams({ page: p }), limit, (l) => setParams({ limit: l, page: 1 })));
      markRendered(ctx.name);
    };
    await reload();
    return reload;
  }

  // ---- Overview
  const PALETTE = ['#00a870', '#3b7ddd', '#e8912d', '#9b59b6', '#d43838', '#16a2b8', '#7f8c8d', '#c0a000'];
  const nodeColors = new Map();
  function colorOf(node) {
    if (!nodeColors.has(node)) nodeColors.set(node, PALETTE[nodeColors.size % PALETTE.length]);
    return nodeColors.get(node);
  }

  // updateRates turns two readings of each node's message counters into
  // messages per second.
  function updateRates(metrics) {
    const now = performance.now();
    const prev = state.prevMetrics || {};
    const cur = {};
    for (const m of metrics || []) {
      const mm = m.metrics || {};
      const c = { t: now, in: mm['messages.received'] || 0, out: mm['messages.sent'] || 0 };
      let p = prev[m.node];
      if (p && now - p.t > 10000) p = undefined; // stale: the page was elsewhere
      if (p && now - p.t < 200) { cur[m.node] = p; continue; } // too close to measure
      if (p) {
        const dt = (now - p.t) / 1000;
        state.rates[m.node] = { in: Math.max(0, (c.in - p.in) / dt), out: Math.max(0, (c.out - p.out) / dt) };
      }
      cur[m.node] = c;
    }
    state.prevMetrics = cur;
  }

  views.overview = (root, ctx) => {
    const summary = h('div', { class: 'summary', id: 'summary' });
    const nodesBox = h('div', { id: 'nodes-box' }, h('p', { class: 'muted' }, 'Loading…'));
    const connChart = h('div', { id: 'chart-connections' });
    const msgChart = h('div', { id: 'chart-messages' });
    root.append(
      h('div', { class: 'toolbar' }, h('h2', null, 'Overview')),
      summary,
      h('div', { class: 'card' }, h('h3', null, 'Nodes'), nodesBox),
      h('div', { class: 'grid' },
        h('div', { class: 'card' }, h('h3', null, 'Connections'), connChart),
        h('div', { class: 'card' }, h('h3', null, 'Messages per second'), msgChart)));

    let charts = false;
    let first = true;
    const none = () => ({ data: [] });
    ctx.every(OVERVIEW_EVERY, async () => {
      // The nodes show as soon as they come; the rates and totals follow.
      // The first time, the rates are the monitor's last sample (two
      // readings of the counters make the next ones).
      const pn = get('/nodes');
      const pm = get('/metrics').catch(none), ps = get('/stats').catch(none);
      const pc = first ? get('/monitor/current').catch(none) : null;
      first = false;
      const nodes = (await pn).data || [];
      if (!ctx.live()) return;
      renderNodes(nodesBox, nodes);
      markRendered('overview');
      const [metrics, stats, cur] = await Promise.all([pm, ps, pc]);
      if (!ctx.live()) return;
      for (const c of cur ? cur.data || [] : []) state.rates[c.node] = { in: c.received || 0, out: c.sent || 0 };
      updateRates(metrics.data);
      renderNodes(nodesBox, nodes);
      renderSummary(summary, nodes, stats.data || []);
      if (!charts) { // the charts load after the nodes show
        charts = true;
        ctx.every(HISTORY_EVERY, async () => {
          const { data } = await get('/monitor/history');
          if (ctx.live()) renderCharts(connChart, msgChart, data || []);
        });
      }
    });
  };

  function renderNodes(box, nodes) {
    const rows = nodes.map((n) => ({ ...n, node: n.node || n.name })).sort((a, b) => a.node.localeCompare(b.node));
    const cols = [
      { title: 'Node', get: (n) => h('span', { class: 'mono' }, h('i', { style: `display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:6px;background:${colorOf(n.node)}` }), n.node) },
      { title: 'Status', get: (n) => statusBadge(n.node_status) },
      { title: 'Version', get: (n) => n.version || '' },
      { title: 'Uptime', get: (n) => n.uptime || '' },
      { title: 'Connections', cls: 'num', get: (n) => (n.node_status === 'Running' ? fmtNum(n.connections) : '') },
      { title: 'Msgs in/s', cls: 'num', get: (n) => (n.node_status === 'Running' ? fmtRate(state.rates[n.node]?.in) : '') },
      { title: 'Msgs out/s', cls: 'num', get: (n) => (n.node_status === 'Running' ? fmtRate(state.rates[n.node]?.out) : '') },
      { title: 'Memory', cls: 'num', get: (n) => (n.memory_used ? `${n.memory_used} / ${n.memory_total}` : '') },
      { title: 'Load 1/5/15', cls: 'num', get: (n) => (n.load1 ? `${n.load1} ${n.load5} ${n.load15}` : '') },
    ];
    box.replaceChildren(table('nodes', cols, rows,
      (n) => ({ 'data-testid': 'node-row', 'data-node': n.node, 'data-status': n.node_status, class: n.node_status === 'Running' ? '' : 'stopped' }),
      'No nodes'));
  }

  function renderSummary(box, nodes, stats) {
    const running = nodes.filter((n) => n.node_status === 'Running').length;
    const sum = (k) => stats.reduce((a, st) => a + ((st.stats || {})[k] || 0), 0);
    let rin = 0, rout = 0;
    for (const n of nodes) {
      const r = state.rates[n.node || n.name];
      if (r && n.node_status === 'Running') { rin += r.in; rout += r.out; }
    }
    const stat = (id, label, v) => h('div', { class: 'stat', id }, h('b', null, v), h('small', null, label));
    box.replaceChildren(
      stat('stat-nodes', 'nodes running', `${running} / ${nodes.length}`),
      stat('stat-connections', 'connections', fmtNum(sum('connections.count'))),
      stat('stat-subscriptions', 'subscriptions', fmtNum(sum('subscriptions.count'))),
      stat('stat-topics', 'topics', fmtNum(Math.max(0, ...stats.map((st) => (st.stats || {})['topics.count'] || 0)))),
      stat('stat-retained', 'retained', fmtNum(Math.max(0, ...stats.map((st) => (st.stats || {})['retained.count'] || 0)))),
      stat('stat-in', 'messages in/s', fmtRate(rin)),
      stat('stat-out', 'messages out/s', fmtRate(rout)));
  }

  // sumSeries adds the nodes' series up, sample by sample: each node
  // samples once every 5 s at its own instant, so one 5 s window holds
  // one sample of each.
  function sumSeries(list) {
    const m = new Map();
    for (const pts of list) for (const [t, v] of pts) {
      const k = (Math.floor(t / HISTORY_EVERY) + 1) * HISTORY_EVERY;
      const c = m.get(k) || { v: 0, n: 0 };
      c.v += v;
      c.n++;
      m.set(k, c);
    }
    const out = [...m.entries()].sort((a, b) => a[0] - b[0]);
    // The newest window may not have every node's sample yet.
    if (out.length > 1 && out[out.length - 1][1].n < out[out.length - 2][1].n) out.pop();
    return out.map(([k, c]) => [k, c.v]);
  }
  function renderCharts(connBox, msgBox, history) {
    const hs = [...history].sort((a, b) => a.node.localeCompare(b.node));
    const conn = hs.map((n) => ({ name: n.node, color: colorOf(n.node), points: (n.samples || []).map((p) => [toMs(p.t), p.connections || 0]) }));
    const msgs = [
      { name: 'received', color: '#00a870', points: sumSeries(hs.map((n) => (n.samples || []).map((p) => [toMs(p.t), p.received || 0]))) },
      { name: 'sent', color: '#3b7ddd', dash: true, points: sumSeries(hs.map((n) => (n.samples || []).map((p) => [toMs(p.t), p.sent || 0]))) },
    ];
    connBox.replaceChildren(lineChart('connections', conn));
    msgBox.replaceChildren(lineChart('messages', msgs));
  }

  // lineChart draws series ([{name, color, points: [[ms, value]]}]) as an SVG.
  function lineChart(id, series) {
    const W = 560, H = 190, L = 46, R = 10, T = 8, B = 22;
    let t0 = Infinity, t1 = -Infinity, max = 0, n = 0;
    for (const se of series) for (const [t, v] of se.points) {
      t0 = Math.min(t0, t); t1 = Math.max(t1, t); max = Math.max(max, v); n++;
    }
    const svg = s('svg', { class: 'chart', id: 'chart-' + id, viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-points': n, 'data-span': n ? t1 - t0 : 0 });
    if (!n) {
      svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'Collecting samples…'));
      return h('div', null, svg);
    }
    if (t1 - t0 < 60000) t0 = t1 - 60000; // at least a minute wide
    const top = niceCeil(max / 4) * 4; // four steps of a round size
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - v / top) * (H - T - B);
    const grid = s('g', { class: 'grid' });
    for (let i = 0; i <= 4; i++) {
      const v = (top / 4) * i;
      grid.append(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      grid.append(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, shortNum(v)));
    }
    for (let i = 0; i <= 3; i++) {
      const t = t0 + ((t1 - t0) / 3) * i;
      grid.append(s('text', { x: x(t), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === 3 ? 'end' : 'middle' }, fmtClock(t)));
    }
    svg.append(grid);
    for (const se of series) {
      if (!se.points.length) continue;
      const pts = se.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      const attrs = { class: 'line', points: pts, stroke: se.color, 'data-series': se.name };
      if (se.dash) attrs['stroke-dasharray'] = '6 4'; // a line that can lie on another stays visible
      svg.append(s('polyline', attrs));
    }
    const legend = h('div', { class: 'legend' }, series.map((se) => h('span', null, h('i', { style: `background:${se.color}` }), se.name)));
    return h('div', null, svg, legend);
  }
  function niceCeil(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function shortNum(v) {
    if (v >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
    if (v >= 1e3) return +(v / 1e3).toFixed(1) + 'k';
    return +v.toFixed(1) + '';
  }

  // ---- Clients
  views.clients = (root, ctx) => (ctx.args.length ? clientDetail(root, ctx, ctx.args[0]) : clientList(root, ctx));

  async function clientList(root, ctx) {
    const p = ctx.params;
    const form = h('form', { class: 'toolbar', id: 'clients-form' },
      h('h2', null, 'Clients'),
      field('clients-clientid', 'Client ID contains', p.get('clientid'), { placeholder: 'client id' }),
      field('clients-username', 'Username', p.get('username')),
      field('clients-ip', 'IP address', p.get('ip'), { placeholder: '127.0.0.1' }),
      h('button', { id: 'clients-search', class: 'primary', type: 'submit' }, 'Search'),
      h('button', { id: 'clients-reset', type: 'button', onclick: () => go('clients', {}) }, 'Reset'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      go('clients', { clientid: $('#clients-clientid').value.trim(), username: $('#clients-username').value.trim(), ip: $('#clients-ip').value.trim(), limit: p.get('limit') });
    });
    root.append(form);
    const kick = (id, reload) => act(`Kick client ${id}? Its connection is closed.`, 'Kick',
      () => api('DELETE', '/clients/' + enc(id)), `Client ${id} kicked`, () => untilGone(id, reload));
    await pagedList(root, ctx, {
      id: 'clients',
      empty: 'No clients',
      load: (page, limit) => get('/clients' + qs({ _page: page, _limit: limit, _like_clientid: p.get('clientid'), username: p.get('username'), ip_address: p.get('ip') })),
      rowAttrs: (c) => ({ 'data-testid': 'client-row', 'data-clientid': c.clientid }),
      columns: (reload) => [
        { title: 'Client ID', get: (c) => h('a', { href: '#/clients/' + enc(c.clientid), 'data-testid': 'client-link', class: 'mono' }, c.clientid) },
        { title: 'Username', get: (c) => c.username },
        { title: 'IP address', get: (c) => `${c.ip_address}:${c.port}` },
        { title: 'Node', get: (c) => c.node },
        { title: 'Connected', get: (c) => statusBadgeConn(c.connected) },
        { title: 'Protocol', get: (c) => `${c.proto_name} ${c.proto_ver}` },
        { title: 'Subs', cls: 'num', get: (c) => fmtNum(c.subscriptions_cnt) },
        { title: 'Connected at', get: (c) => c.connected_at },
        { title: '', get: (c) => h('button', { class: 'danger small', type: 'button', 'data-testid': 'kick', onclick: () => kick(c.clientid, reload) }, 'Kick') },
      ],
    });
  }
  function statusBadgeConn(on) {
    return h('span', { class: 'status ' + (on ? 'ok' : 'bad') }, on ? 'connected' : 'disconnected');
  }
  // untilGone reloads the list until the kicked client has left it (its
  // connection closes asynchronously on its node), at most about 3 s.
  async function untilGone(id, reload) {
    for (let i = 0; i < 10; i++) {
      await reload();
      if (![...document.querySelectorAll('[data-testid=client-row]')].some((r) => r.dataset.clientid === id)) return;
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async function clientDetail(root, ctx, id) {
    root.append(h('div', { class: 'toolbar' },
      h('h2', null, 'Client ', h('span', { class: 'mono', id: 'client-id' }, id)),
      h('a', { href: '#/clients' }, '‹ All clients'),
      h('button', { id: 'client-kick', class: 'danger', type: 'button', onclick: () => act(`Kick client ${id}? Its connection is closed.`, 'Kick',
        () => api('DELETE', '/clients/' + enc(id)), `Client ${id} kicked`, () => go('clients', {})) }, 'Kick')));
    const [cl, subs] = await Promise.all([get('/clients/' + enc(id)), get('/subscriptions/' + enc(id))]);
    if (!ctx.live()) return;
    const infos = cl.data || [];
    if (!infos.length) {
      root.append(h('div', { class: 'card', id: 'client-missing' }, 'This client is not connected (it may have disconnected or been kicked).'));
      markRendered('client');
      return;
    }
    for (const c of infos) {
      const keys = Object.keys(c);
      root.append(h('div', { class: 'card' }, h('h3', null, 'Connection on ', c.node),
        h('dl', { class: 'fields', id: 'client-fields' }, keys.map((k) => [h('dt', null, k), h('dd', { 'data-field': k }, fmtAny(c[k]))]))));
    }
    root.append(h('div', { class: 'card' }, h('h3', null, 'Subscriptions'),
      table('client-subs', [
        { title: 'Topic', get: (x) => h('span', { class: 'mono' }, x.topic) },
        { title: 'QoS', cls: 'num', get: (x) => x.qos },
        { title: 'Node', get: (x) => x.node },
      ], subs.data || [], (x) => ({ 'data-testid': 'sub-row', 'data-topic': x.topic }), 'No subscriptions')));
    markRendered('client');
  }

  // ---- Subscriptions
  views.subscriptions = async (root, ctx) => {
    const p = ctx.params;
    const form = h('form', { class: 'toolbar', id: 'subs-form' },
      h('h2', null, 'Subscriptions'),
      field('subs-clientid', 'Client ID', p.get('clientid')),
      field('subs-topic', 'Topic (exact)', p.get('topic')),
      field('subs-match', 'Matches topic', p.get('match'), { placeholder: 'a/b/c' }),
      h('button', { id: 'subs-search', class: 'primary', type: 'submit' }, 'Search'),
      h('button', { type: 'button', onclick: () => go('subscriptions', {}) }, 'Reset'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      go('subscriptions', { clientid: $('#subs-clientid').value.trim(), topic: $('#subs-topic').value.trim(), match: $('#subs-match').value.trim(), limit: p.get('limit') });
    });
    root.append(form);
    await pagedList(root, ctx, {
      id: 'subscriptions',
      empty: 'No subscriptions',
      load: (page, limit) => get('/subscriptions' + qs({ _page: page, _limit: limit, clientid: p.get('clientid'), topic: p.get('topic'), _match_topic: p.get('match') })),
      rowAttrs: (x) => ({ 'data-testid': 'sub-row', 'data-clientid': x.clientid, 'data-topic': x.topic }),
      columns: () => [
        { title: 'Client ID', get: (x) => h('a', { href: '#/clients/' + enc(x.clientid), class: 'mono' }, x.clientid) },
        { title: 'Topic', get: (x) => h('span', { class: 'mono' }, x.topic) },
        { title: 'QoS', cls: 'num', get: (x) => x.qos },
        { title: 'Node', get: (x) => x.node },
      ],
    });
  };

  // ---- Topics (routes)
  views.topics = async (root, ctx) => {
    const p = ctx.params;
    const topic = p.get('topic');
    const form = h('form', { class: 'toolbar', id: 'topics-form' },
      h('h2', null, 'Topics'),
      field('topics-topic', 'Topic', topic),
      h('button', { id: 'topics-search', class: 'primary', type: 'submit' }, 'Look up'),
      h('button', { type: 'button', onclick: () => go('topics', {}) }, 'Reset'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      go('topics', { topic: $('#topics-topic').value.trim(), limit: p.get('limit') });
    });
    root.append(form);
    await pagedList(root, ctx, {
      id: 'routes',
      empty: 'No routes',
      load: (page, limit) => (topic ? get('/routes/' + enc(topic)) : get('/routes' + qs({ _page: page, _limit: limit }))),
      rowAttrs: (x) => ({ 'data-testid': 'route-row', 'data-topic': x.topic }),
      columns: () => [
        { title: 'Topic', get: (x) => h('span', { class: 'mono' }, x.topic) },
        { title: 'Node', get: (x) => x.node },
        { title: '', get: (x) => h('a', { href: '#/subscriptions' + qs({ topic: x.topic }) }, 'subscribers') },
      ],
    });
  };

  // ---- Retained messages
  views.retained = async (root, ctx) => {
    const filter = ctx.params.get('topic') || '';
    let reload = async () => {};
    const clearAll = () => act('Clear every retained message in the cluster?', 'Clear all',
      () => api('DELETE', '/retainer/messages'), 'Retained messages cleared', () => reload());
    const form = h('form', { class: 'toolbar', id: 'retained-form' },
      h('h2', null, 'Retained messages'),
      field('retained-topic', 'Topic filter', filter, { placeholder: 'a/+/c or a/#' }),
      h('button', { id: 'retained-search', class: 'primary', type: 'submit' }, 'Search'),
      h('button', { id: 'retained-refresh', type: 'button', onclick: () => reload() }, 'Refresh'),
      h('button', { id: 'retained-clear-all', class: 'danger', type: 'button', onclick: clearAll }, 'Clear all'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      go('retained', { topic: $('#retained-topic').value.trim(), limit: ctx.params.get('limit') });
    });
    root.append(form);
    reload = await pagedList(root, ctx, {
      id: 'retained',
      empty: 'No retained messages',
      load: (page, limit) => get('/retainer/messages' + qs({ _page: page, _limit: limit, topic: filter })),
      rowAttrs: (m) => ({ 'data-testid': 'retained-row', 'data-topic': m.topic }),
      columns: (again) => [
        { title: 'Topic', get: (m) => h('span', { class: 'mono' }, m.topic) },
        { title: 'QoS', cls: 'num', get: (m) => m.qos },
        { title: 'Payload', get: (m) => payloadCell(m) },
        { title: 'From', get: (m) => m.from_clientid },
        { title: 'Time', get: (m) => fmtTime(m.timestamp) },
        { title: '', get: (m) => h('button', { class: 'danger small', type: 'button', 'data-testid': 'retained-clear',
          onclick: () => act(`Clear the retained message of ${m.topic}?`, 'Clear',
            () => api('DELETE', '/retainer/messages' + qs({ topic: m.topic })), `Cleared ${m.topic}`, again) }, 'Clear') },
      ],
    });
  };

  // payloadCell shows a payload as text, or base64 (binary), and says when
  // the API cut it.
  function payloadCell(m) {
    const note = [m.payload_encoding === 'base64' ? 'base64' : '', m.payload_truncated ? `first part of ${fmtBytes(m.payload_size)}` : ''].filter(Boolean).join(', ');
    return h('div', { class: 'payload', title: m.payload },
      h('span', { class: 'mono' }, m.payload), note ? h('small', { class: 'muted' }, ` (${note})`) : null);
  }

  // ---- Listeners
  views.listeners = async (root, ctx) => {
    root.append(h('div', { class: 'toolbar' }, h('h2', null, 'Listeners')));
    const { data } = await get('/listeners');
    if (!ctx.live()) return;
    const rows = [];
    for (const n of data || []) for (const l of n.listeners || []) rows.push({ node: n.node, ...l });
    root.append(table('listeners', [
      { title: 'Node', get: (l) => l.node },
      { title: 'Identifier', get: (l) => h('span', { class: 'mono' }, l.identifier) },
      { title: 'Protocol', get: (l) => l.protocol },
      { title: 'Listen on', get: (l) => h('span', { class: 'mono' }, l.listen_on) },
      { title: 'Connections', cls: 'num', get: (l) => `${fmtNum(l.current_conns)} / ${fmtNum(l.max_conns)}` },
      { title: 'Acceptors', cls: 'num', get: (l) => l.acceptors },
    ], rows, (l) => ({ 'data-testid': 'listener-row', 'data-node': l.node, 'data-id': l.identifier }), 'No listeners'));
    markRendered('listeners');
  };

  // ---- Alarms
  views.alarms = async (root, ctx) => {
    const which = ctx.params.get('which') === 'history' ? 'history' : 'active';
    const tab = (w, label) => h('a', { href: '#/alarms' + qs({ which: w === 'active' ? '' : w }), class: w === which ? 'active' : '', id: 'alarms-tab-' + w }, label);
    const clear = () => act('Delete every deactivated alarm?', 'Delete', () => api('DELETE', '/alarms/deactivated'), 'History cleared', () => route());
    root.append(h('div', { class: 'toolbar' }, h('h2', null, 'Alarms'),
      which === 'history' ? h('button', { id: 'alarms-clear', class: 'danger', type: 'button', onclick: clear }, 'Clear history') : null),
    h('div', { class: 'tabs' }, tab('active', 'Active'), tab('history', 'History')));
    const { data } = await get(which === 'active' ? '/alarms/activated' : '/alarms/deactivated');
    if (!ctx.live()) return;
    const rows = [];
    for (const n of data || []) for (const a of n.alarms || []) rows.push({ node: n.node, ...a });
    const cols = [
      { title: 'Node', get: (a) => a.node },
      { title: 'Name', get: (a) => h('span', { class: 'mono' }, a.name) },
      { title: 'Message', get: (a) => a.message },
      { title: 'Details', get: (a) => h('span', { class: 'mono' }, fmtAny(a.details)) },
      { title: 'Activated at', get: (a) => fmtTime(a.activate_at) },
    ];
    if (which === 'history') cols.push({ title: 'Deactivated at', get: (a) => fmtTime(a.deactivate_at) });
    root.append(table('alarms', cols, rows, (a) => ({ 'data-testid': 'alarm-row', 'data-name': a.name }), which === 'active' ? 'No active alarms' : 'No alarm history'));
    markRendered('alarms');
  };

  // ---- The built-in database (emqx_auth_mnesia): users and ACL
  function mnesiaMissing(root) {
    root.append(h('div', { class: 'card', id: 'mnesia-missing' }, 'The built-in database is not active: load the emqx_auth_mnesia plugin to use it.'));
  }
  views.users = async (root, ctx) => {
    const by = ctx.params.get('by') === 'clientid' ? 'clientid' : 'username';
    const base = by === 'clientid' ? '/auth_clientid' : '/auth_username';
    const tab = (w, label) => h('a', { href: '#/users' + qs({ by: w === 'username' ? '' : w }), class: w === by ? 'active' : '', id: 'users-tab-' + w }, label);
    root.append(h('div', { class: 'toolbar' }, h('h2', null, 'Built-in database: authentication')),
      h('div', { class: 'tabs' }, tab('username', 'By username'), tab('clientid', 'By client ID')));
    await checkPlugins();
    if (!ctx.live()) return;
    if (!state.mnesia) return mnesiaMissing(root);
    let reload = async () => {};
    const form = h('form', { class: 'toolbar', id: 'users-add' },
      field('users-login', by === 'clientid' ? 'Client ID' : 'Username', '', { required: true }),
      field('users-password', 'Password', '', { type: 'password', required: true, autocomplete: 'new-password' }),
      h('button', { id: 'users-submit', class: 'primary', type: 'submit' }, 'Add'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const login = $('#users-login').value.trim();
      act(null, null, () => api('POST', base, { [by]: login, password: $('#users-password').value }), `Added ${login}`, () => {
        form.reset();
        return reload();
      });
    });
    root.append(form);
    reload = await pagedList(root, ctx, {
      id: 'users',
      empty: 'No users',
      load: (page, limit) => get(base + qs({ _page: page, _limit: limit })),
      rowAttrs: (u) => ({ 'data-testid': 'user-row', 'data-login': u[by] }),
      columns: (again) => [
        { title: by === 'clientid' ? 'Client ID' : 'Username', get: (u) => h('span', { class: 'mono' }, u[by]) },
        { title: 'Created at', get: (u) => fmtTime(u.created_at) },
        { title: '', get: (u) => h('button', { class: 'danger small', type: 'button', 'data-testid': 'user-delete',
          onclick: () => act(`Delete ${u[by]}?`, 'Delete', () => api('DELETE', base + '/' + enc(u[by])), `Deleted ${u[by]}`, again) }, 'Delete') },
      ],
    });
  };

  views.acl = async (root, ctx) => {
    const kind = ['clientid', 'username', '$all'].includes(ctx.params.get('by')) ? ctx.params.get('by') : 'clientid';
    const tab = (w, label) => h('a', { href: '#/acl' + qs({ by: w === 'clientid' ? '' : w }), class: w === kind ? 'active' : '', id: 'acl-tab-' + w.replace('$', '') }, label);
    root.append(h('div', { class: 'toolbar' }, h('h2', null, 'Built-in database: ACL')),
      h('div', { class: 'tabs' }, tab('clientid', 'By client ID'), tab('username', 'By username'), tab('$all', 'For all')));
    await checkPlugins();
    if (!ctx.live()) return;
    if (!state.mnesia) return mnesiaMissing(root);
    let reload = async () => {};
    const form = h('form', { class: 'toolbar', id: 'acl-add' },
      kind === '$all' ? null : field('acl-login', kind === 'clientid' ? 'Client ID' : 'Username', '', { required: true }),
      field('acl-topic', 'Topic', '', { required: true }),
      sel('acl-action', 'Action', ['pub', 'sub', 'pubsub'], 'pubsub'),
      sel('acl-access', 'Access', ['allow', 'deny'], 'allow'),
      h('button', { id: 'acl-submit', class: 'primary', type: 'submit' }, 'Add'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const rule = { topic: $('#acl-topic').value.trim(), action: $('#acl-action').value, access: $('#acl-access').value };
      if (kind !== '$all') rule[kind] = $('#acl-login').value.trim();
      act(null, null, () => api('POST', '/acl', rule), `Added the rule for ${rule.topic}`, () => {
        form.reset();
        return reload();
      });
    });
    root.append(form);
    const who = (r) => (kind === '$all' ? '$all' : r[kind]);
    const delPath = (r) => (kind === '$all' ? '/acl/$all/topic/' + enc(r.topic) : `/acl/${kind}/${enc(r[kind])}/topic/${enc(r.topic)}`);
    reload = await pagedList(root, ctx, {
      id: 'acl',
      empty: 'No rules',
      load: (page, limit) => get('/acl/' + kind + qs({ _page: page, _limit: limit })),
      rowAttrs: (r) => ({ 'data-testid': 'acl-row', 'data-login': who(r), 'data-topic': r.topic }),
      columns: (again) => [
        { title: kind === 'clientid' ? 'Client ID' : kind === 'username' ? 'Username' : 'Who', get: (r) => h('span', { class: 'mono' }, who(r)) },
        { title: 'Topic', get: (r) => h('span', { class: 'mono' }, r.topic) },
        { title: 'Action', get: (r) => r.action },
        { title: 'Access', get: (r) => r.access },
        { title: '', get: (r) => h('button', { class: 'danger small', type: 'button', 'data-testid': 'acl-delete',
          onclick: () => act(`Delete the rule for ${r.topic}?`, 'Delete', () => api('DELETE', delPath(r)), 'Rule deleted', again) }, 'Delete') },
      ],
    });
  };

  // ---- start
  async function boot() {
    $('#login-form').addEventListener('submit', login);
    $('#logout').addEventListener('click', logout);
    $('#change-password').addEventListener('click', openPassword);
    $('#warning-change-password').addEventListener('click', openPassword);
    $('#password-form').addEventListener('submit', changePassword);
    $('#pw-cancel').addEventListener('click', () => $('#password-dialog').close());
    window.addEventListener('hashchange', route);
    // The session check and the view's first requests go out together: a
    // page load costs one round trip. Not logged in: the view's requests
    // get 401 and the login form shows.
    const me = api('GET', '/auth/me', undefined, { login: true });
    state.booting = true;
    route();
    try {
      const { data } = await me;
      showApp(data, true);
    } catch {
      showLogin();
    }
  }
  boot();
})();
