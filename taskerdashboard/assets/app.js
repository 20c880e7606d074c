// Tasker dashboard: draws the page of the current URL from the REST API
// (/tasker/...), with the session cookie as the credential. No framework,
// no build step; every text is set as text (never parsed as HTML).

const STATES = ['pending', 'in_progress', 'complete', 'error', 'cancelled', 'resolved_manually'];
const FINAL = new Set(['complete', 'cancelled', 'resolved_manually']);
const PAGE_SIZE = 50;
// COUNT_LIMIT stops the counts of a page past this many tasks ("10,000+"),
// so that a page costs the same on a table of any size.
const COUNT_LIMIT = 10000;

function countOf(list) {
  const p = list.pagination;
  return p.total_capped ? `${p.total.toLocaleString()}+` : p.total.toLocaleString();
}

// ---- DOM helpers ----

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

function append(parent, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return parent;
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.setAttribute('class', v);
    else if (k === 'href') e.setAttributeNS('http://www.w3.org/1999/xlink', 'href', v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const main = () => document.getElementById('main');

function render(...children) {
  const m = main();
  m.replaceChildren();
  append(m, children);
}

function badge(state) {
  return el('span', { class: `badge s-${state}` }, (state || 'unknown').replace('_', ' '));
}

function json(v) {
  return el('pre', { tabindex: 0 }, v === undefined || v === null ? 'null' : JSON.stringify(v, null, 2));
}

function empty(text, ...more) {
  return el('div', { class: 'empty' }, el('p', {}, text), ...more);
}

// ---- time ----

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function relative(date) {
  const s = (date.getTime() - Date.now()) / 1000;
  const abs = Math.abs(s);
  if (abs < 45) return rtf.format(Math.round(s), 'second');
  if (abs < 2700) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 64800) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

function when(iso) {
  if (!iso) return el('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  return el('time', { datetime: iso, title: d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) + ' (' + iso + ')' }, relative(d));
}

function duration(fromIso, toIso) {
  if (!fromIso) return '—';
  const ms = (toIso ? new Date(toIso) : new Date()) - new Date(fromIso);
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

// ---- API ----

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const init = { credentials: 'same-origin', headers: { Accept: 'application/json' }, ...options };
  // Every POST, PUT and PATCH declares JSON, even without a body (the API
  // refuses others: no HTML form can send it).
  if (['POST', 'PUT', 'PATCH'].includes(options.method)) init.headers = { ...init.headers, 'Content-Type': 'application/json' };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new APIError(0, 'The server could not be reached. Check that tasker serve is running, then retry.');
  }
  if (res.status === 401) {
    location.assign('/sign-in?next=' + encodeURIComponent(location.pathname + location.search));
    throw new APIError(401, 'Your session ended: sign in again.');
  }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const msg = body && body.error && body.error.message ? body.error.message : `The server answered ${res.status}.`;
    throw new APIError(res.status, msg);
  }
  return body;
}

// ---- session and permissions ----

let session = { permissions: {} };

function can(perm) {
  return !!session.permissions[perm];
}

// guarded returns a button that runs action, or the same button disabled
// with the permission it needs named (title and visible text for screen
// readers).
function guarded(label, perm, action, cls) {
  const allowed = can(perm);
  const b = el('button', { type: 'button', class: cls, disabled: !allowed, title: allowed ? undefined : `Needs the permission ${perm}`,
    dataset: { permission: perm }, onclick: allowed ? action : undefined }, label);
  if (!allowed) b.append(el('span', { class: 'need' }, ` (needs ${perm})`));
  return b;
}

// ---- feedback ----

function toast(text, bad) {
  const box = document.getElementById('toast');
  const m = el('div', { class: bad ? 'msg bad' : 'msg' }, text);
  box.append(m);
  setTimeout(() => m.remove(), 6000);
}

// confirmAction asks before an action, runs it, and shows its error in
// the dialog (the dialog stays open) or closes with a message.
function confirmAction({ title, text, extra, ok, run }) {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const box = document.getElementById('confirm-extra');
  box.replaceChildren();
  if (extra) box.append(extra);
  const err = document.getElementById('confirm-error');
  err.hidden = true;
  const okButton = document.getElementById('confirm-ok');
  okButton.textContent = ok || 'Confirm';
  okButton.disabled = false;
  okButton.onclick = async (ev) => {
    ev.preventDefault();
    okButton.disabled = true;
    try {
      const message = await run();
      d.close();
      if (message) toast(message);
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      okButton.disabled = false;
    }
  };
  d.showModal();
}

function errorBox(e, retry) {
  return empty(e.message, retry ? el('button', { type: 'button', onclick: retry }, 'Retry') : null);
}

// ---- live updates ----

const live = { handlers: new Set(), source: null };

function onChange(fn) {
  live.handlers.add(fn);
}

function connectLive() {
  if (!can('tasker.task:index')) return;
  const dot = document.getElementById('live-state');
  const es = new EventSource('/_/live');
  live.source = es;
  es.onopen = () => { dot.classList.add('on'); dot.title = 'Live updates: connected'; };
  es.onerror = () => { dot.classList.remove('on'); dot.title = 'Live updates: reconnecting'; };
  es.addEventListener('change', (ev) => {
    let c;
    try { c = JSON.parse(ev.data); } catch { return; }
    for (const fn of live.handlers) fn(c);
  });
}

// debounce runs fn at most once per wait ms, after the last call.
function debounce(fn, wait) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), wait); };
}

// every runs fn every ms while the page is visible.
function every(ms, fn) {
  setInterval(() => { if (document.visibilityState === 'visible') fn(); }, ms);
}

// ---- charts ----

// SPANS are the overview's periods: hours and buckets of GET
// /tasker/analytics/series (a bucket is a whole number of minutes).
const SPANS = {
  '1h': { period: 1, buckets: 60, label: 'Last hour', unit: '1 minute' },
  '24h': { period: 24, buckets: 48, label: 'Last 24 hours', unit: '30 minutes' },
  '7d': { period: 168, buckets: 56, label: 'Last 7 days', unit: '3 hours' },
};

const CHART = { w: 360, h: 180, left: 46, right: 8, top: 10, bottom: 24 };

// periodPicker links to the overview of each span (a stable URL), the
// current one marked.
function periodPicker(current) {
  return el('nav', { class: 'spans', 'aria-label': 'Period of the charts' }, Object.entries(SPANS).map(([k, s]) =>
    el('a', { href: `/?span=${k}`, class: 'span', 'aria-current': k === current ? 'true' : undefined }, s.label)));
}

// niceMax returns the top of an axis of 4 equal steps reaching v (at
// least min), each step 1, 2 or 5 times a power of ten, so that every
// tick is a round number.
function niceMax(v, min) {
  const x = Math.max(v, min) / 4;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return 4 * m * p;
  return 40 * p;
}

function fmtNum(v, unit) {
  if (unit === 's') return v < 1 ? `${Math.round(v * 1000)} ms` : `${+v.toFixed(v < 10 ? 2 : 1)} s`;
  if (unit === '%') return `${+v.toFixed(2)} %`;
  return v.toLocaleString(undefined, { maximumFractionDigits: 1 });
}

function bucketLabel(iso, period) {
  const d = new Date(iso);
  return period > 24 ? d.toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' })
    : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

// chart draws one SVG chart of the series' buckets: bars (stacked, one
// class each) and lines (a point per bucket that has a value: null is a
// gap). It returns a figure with the SVG (title and description for
// screen readers), a legend, and the same numbers as a table in a
// <details> for those who cannot see the chart.
function chart({ id, title, unit, bars = [], lines = [], buckets, period, summary }) {
  const { w, h, left, right, top, bottom } = CHART;
  const n = buckets.length;
  const pw = w - left - right;
  const ph = h - top - bottom;
  const step = pw / Math.max(n, 1);
  let hi = 0;
  for (const b of buckets) {
    hi = Math.max(hi, bars.reduce((a, s) => a + (s.value(b) || 0), 0));
    for (const l of lines) { const v = l.value(b); if (v !== null && v !== undefined) hi = Math.max(hi, v); }
  }
  const ymax = niceMax(hi, unit === '%' ? 4 : unit === 's' ? 0.004 : 4);
  const y = (v) => top + ph - (v / ymax) * ph;
  const parts = [svg('title', { id: `${id}-title` }, title), svg('desc', { id: `${id}-desc` }, summary)];
  // Grid and y labels: 0, ¼, ½, ¾ and the maximum.
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    parts.push(svg('line', { class: 'grid', x1: left, x2: w - right, y1: y(v), y2: y(v) }));
    parts.push(svg('text', { class: 'tick', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtNum(v, unit)));
  }
  // X labels: the first bucket, the middle and the last.
  for (const i of [...new Set([0, Math.floor(n / 2), n - 1])].filter((i) => i >= 0 && i < n)) {
    parts.push(svg('text', { class: 'tick', x: left + step * i + step / 2, y: h - 8, 'text-anchor': i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle' },
      bucketLabel(buckets[i].start, period)));
  }
  const bw = Math.max(step * 0.72, 1);
  buckets.forEach((b, i) => {
    let base = 0;
    for (const s of bars) {
      const v = s.value(b) || 0;
      if (v > 0) {
        parts.push(svg('rect', { class: `col ${s.cls}`, x: (left + step * i + (step - bw) / 2).toFixed(1), y: y(base + v).toFixed(1),
          width: bw.toFixed(1), height: Math.max(y(base) - y(base + v), 0.5).toFixed(1) },
        svg('title', {}, `${bucketLabel(b.start, period)}: ${fmtNum(v, unit)} ${s.label}`)));
      }
      base += v;
    }
  });
  for (const l of lines) {
    let d = '';
    let pen = false;
    const points = [];
    buckets.forEach((b, i) => {
      const v = l.value(b);
      if (v === null || v === undefined) { pen = false; return; }
      const px = (left + step * i + step / 2).toFixed(1);
      const py = y(v).toFixed(1);
      d += `${pen ? 'L' : 'M'}${px} ${py} `;
      pen = true;
      points.push(svg('circle', { class: `point ${l.cls}`, cx: px, cy: py, r: n > 50 ? 1.6 : 2.2 },
        svg('title', {}, `${bucketLabel(b.start, period)}: ${fmtNum(v, unit)} ${l.label}`)));
    });
    if (d) parts.push(svg('path', { class: `line ${l.cls}`, d: d.trim() }));
    parts.push(...points);
  }
  const series = [...bars, ...lines];
  const detailsId = `${id}-data`;
  const wasOpen = document.getElementById(detailsId)?.open;
  return el('figure', { class: 'card chart', id },
    el('figcaption', {}, el('h3', {}, title)),
    svg('svg', { viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc`, focusable: 'false' }, ...parts),
    el('ul', { class: 'legend' }, series.map((s) => el('li', {}, el('span', { class: `swatch ${s.cls}`, 'aria-hidden': 'true' }), s.label))),
    el('details', { id: detailsId, open: wasOpen },
      el('summary', {}, 'Data table'),
      el('div', { class: 'table-wrap', tabindex: 0 }, el('table', {},
        el('caption', { class: 'sr-only' }, title),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Bucket start'), series.map((s) => el('th', { scope: 'col', class: 'num' }, `${s.label}${unit === 'count' ? '' : ` (${unit})`}`)))),
        el('tbody', {}, buckets.map((b) => el('tr', {}, el('th', { scope: 'row' }, el('time', { datetime: b.start }, bucketLabel(b.start, period))),
          series.map((s) => { const v = s.value(b); return el('td', { class: 'num' }, v === null || v === undefined ? '—' : fmtNum(v, unit)); }))))))));
}

// seriesCharts draws the three charts of the overview from GET
// /tasker/analytics/series: tasks and steps finished, the error rate, and
// the step latency.
function seriesCharts(rep, span) {
  const bs = rep.buckets || [];
  const s = SPANS[span];
  const total = (f) => bs.reduce((a, b) => a + (b[f] || 0), 0);
  const done = total('tasks_completed');
  const failed = total('tasks_failed');
  const sampled = bs.some((b) => b.analyzed_tasks < b.tasks_finished);
  const ran = bs.filter((b) => b.step_duration && b.step_duration.count > 0);
  const peak = (f) => ran.reduce((a, b) => Math.max(a, b.step_duration[f]), 0);
  const range = `${bs.length} buckets of ${s.unit}, ${s.label.toLowerCase()}`;
  const rate = done + failed ? (failed / (done + failed)) * 100 : 0;
  const out = el('div', { class: 'charts', id: 'charts', 'aria-labelledby': 'charts-title', role: 'group' },
    chart({ id: 'chart-throughput', title: 'Throughput', unit: 'count', buckets: bs, period: s.period,
      summary: `${range}: ${done.toLocaleString()} tasks completed, ${failed.toLocaleString()} failed, ${total('steps_completed').toLocaleString()} steps completed.`,
      bars: [{ cls: 's-complete', label: 'tasks completed', value: (b) => b.tasks_completed },
        { cls: 's-error', label: 'tasks failed', value: (b) => b.tasks_failed }],
      lines: [{ cls: 's-in_progress', label: 'steps completed', value: (b) => b.steps_completed }] }),
    chart({ id: 'chart-errors', title: 'Error rate', unit: '%', buckets: bs, period: s.period,
      summary: `${range}: ${fmtNum(rate, '%')} of the finished tasks failed overall; ${total('step_attempts_failed').toLocaleString()} step attempts failed. Buckets where no task finished have no point.`,
      lines: [{ cls: 's-error', label: 'tasks failed', value: (b) => (b.tasks_completed + b.tasks_failed ? b.error_rate : null) }] }),
    chart({ id: 'chart-latency', title: 'Step latency', unit: 's', buckets: bs, period: s.period,
      summary: `${range}: step run time p50 up to ${fmtNum(peak('p50'), 's')}, p95 up to ${fmtNum(peak('p95'), 's')}. Buckets without a completed step have no point.`,
      lines: [{ cls: 's-complete', label: 'p50', value: (b) => (b.step_duration && b.step_duration.count ? b.step_duration.p50 : null) },
        { cls: 's-cancelled', label: 'p95', value: (b) => (b.step_duration && b.step_duration.count ? b.step_duration.p95 : null) }] }));
  const note = el('p', { class: 'muted chart-note' }, 'Tasks by the time they finished; steps are those of these tasks',
    sampled ? `, read from up to ${rep.sample_limit_per_bucket.toLocaleString()} tasks per bucket (the last to finish).` : '.');
  return [out, note];
}

// ---- pages ----

async function overviewPage() {
  document.title = 'Overview · Tasker';
  const parts = [];
  const asked = new URLSearchParams(location.search).get('span');
  const span = Object.hasOwn(SPANS, asked) ? asked : '24h';
  const load = async () => {
    const s = SPANS[span];
    const [health, series] = await Promise.all([
      can('tasker.health_status:index') ? api('/tasker/health/status').catch((e) => (e.status === 503 ? null : Promise.reject(e))) : null,
      can('tasker.analytics:index') ? api(`/tasker/analytics/series?period=${s.period}&buckets=${s.buckets}`).catch(() => null) : null,
    ]);
    parts.length = 0;
    parts.push(el('h1', {}, 'Overview'));
    // The charts come after the counts by state (or first, without them).
    const charts = [el('h2', { id: 'charts-title' }, 'Throughput, errors and step latency'),
      series ? [periodPicker(span), seriesCharts(series, span)] : empty('Analytics need the permission tasker.analytics:index.')];
    if (health) {
      const tasks = health.tasks || {};
      parts.push(el('div', { class: 'grid', id: 'task-counts' }, STATES.map((s) =>
        el('a', { class: 'card stat', href: `/tasks?status=${s}` }, el('div', { class: `n s-${s}` }, tasks[s] ?? 0), el('div', { class: 'l' }, `tasks ${s.replace('_', ' ')}`)))));
      parts.push(charts);
      parts.push(el('h2', {}, 'Work'));
      parts.push(el('div', { class: 'grid' },
        el('div', { class: 'card stat' }, el('div', { class: 'n' }, health.ready_steps ?? 0), el('div', { class: 'l' }, 'steps ready to run')),
        el('div', { class: 'card stat' }, el('div', { class: 'n' }, health.outbox ? health.outbox.backlog : 0), el('div', { class: 'l' }, 'events waiting for delivery')),
        el('a', { class: 'card stat', href: '/dead-letters' }, el('div', { class: 'n' }, health.outbox ? health.outbox.dead_letters : 0), el('div', { class: 'l' }, 'dead letters')),
        el('div', { class: 'card stat' }, el('div', { class: 'n' }, health.workers ? health.workers.total : 0), el('div', { class: 'l' }, 'workers seen in 5 min'))));
      const workers = (health.workers && health.workers.workers) || [];
      parts.push(el('h2', {}, 'Workers seen recently'));
      parts.push(workers.length === 0 ? empty('No worker was seen in the last 5 minutes: start one with tasker worker (or tasker serve runs one).')
        : el('div', { class: 'table-wrap', tabindex: 0 }, el('table', {},
          el('thead', {}, el('tr', {}, ['Worker', 'Kind', 'Host', 'Namespaces', 'Last seen'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody', {}, workers.map((w) => el('tr', {}, el('td', {}, el('code', {}, w.worker_id)), el('td', {}, w.kind), el('td', {}, w.host),
            el('td', {}, (w.namespaces || []).join(', ')), el('td', {}, when(w.last_seen_at))))))));
    } else {
      parts.push(charts, empty('Health and counts need the permission tasker.health_status:index.'));
    }
    render(parts);
  };
  try { await load(); } catch (e) { render(el('h1', {}, 'Overview'), errorBox(e, load)); return; }
  const refresh = debounce(() => load().catch(() => {}), 1000);
  onChange(refresh);
  every(15000, refresh);
}

function taskQuery(params, extra) {
  const q = new URLSearchParams();
  for (const k of ['status', 'namespace', 'name', 'version', 'tags', 'created_since', 'created_until', 'annotation_type', 'annotation_key', 'annotation_value']) {
    if (params.get(k)) q.set(k, params.get(k));
  }
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return q;
}

async function tasksPage() {
  document.title = 'Tasks · Tasker';
  const params = new URLSearchParams(location.search);
  const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  const field = (name, label, attrs) => el('label', {}, label, el('input', { name, value: params.get(name) || '', ...attrs }));
  const statusSelect = el('select', { name: 'status' }, el('option', { value: '' }, 'any'),
    STATES.map((s) => el('option', { value: s, selected: params.get('status') === s }, s.replace('_', ' '))));
  const form = el('form', { class: 'filters', role: 'search', 'aria-label': 'Filter tasks' },
    el('label', {}, 'State', statusSelect),
    field('namespace', 'Namespace', { size: 12 }), field('name', 'Template', { size: 14 }),
    field('tags', 'Tag', { size: 10 }),
    field('created_since', 'Created since', { type: 'datetime-local' }), field('created_until', 'Created until', { type: 'datetime-local' }),
    field('annotation_type', 'Annotation type', { size: 10 }), field('annotation_key', 'key', { size: 8 }), field('annotation_value', 'value', { size: 8 }),
    el('button', { type: 'submit', class: 'primary' }, 'Filter'),
    el('a', { href: '/tasks' }, 'Clear'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    location.assign('/tasks' + (q.toString() ? '?' + q : ''));
  });
  const jump = el('form', { class: 'filters', 'aria-label': 'Open a task by id' },
    el('label', {}, 'Task id', el('input', { name: 'id', inputmode: 'numeric', pattern: '[0-9]+', size: 8, required: true })),
    el('button', { type: 'submit' }, 'Open'));
  jump.addEventListener('submit', (ev) => { ev.preventDefault(); location.assign('/tasks/' + encodeURIComponent(new FormData(jump).get('id'))); });

  const counts = el('div', { class: 'counts', 'aria-label': 'Tasks by state' });
  const table = el('div', { id: 'tasks-table' });
  render(el('h1', {}, 'Tasks'), jump, form, counts, table);

  // Dates from datetime-local inputs are local times: send them as RFC 3339.
  const apiParams = new URLSearchParams(params);
  for (const k of ['created_since', 'created_until']) {
    if (apiParams.get(k)) apiParams.set(k, new Date(apiParams.get(k)).toISOString());
  }

  const load = async () => {
    const q = taskQuery(apiParams, { limit: PAGE_SIZE, offset, sort_by: 'created_at', sort_order: 'desc', count_limit: COUNT_LIMIT });
    const [page, ...totals] = await Promise.all([
      api('/tasker/tasks?' + q),
      ...STATES.map((s) => api('/tasker/tasks?' + taskQuery(apiParams, { status: s, limit: 1, count_limit: COUNT_LIMIT })).then(countOf).catch(() => null)),
    ]);
    counts.replaceChildren(...STATES.map((s, i) => {
      const q2 = new URLSearchParams(params);
      q2.set('status', s);
      q2.delete('offset');
      return el('a', { href: '/tasks?' + q2, class: `badge s-${s}`, 'aria-current': params.get('status') === s ? 'true' : undefined }, `${s.replace('_', ' ')} ${totals[i] ?? '?'}`);
    }));
    if (page.tasks.length === 0) {
      table.replaceChildren(empty(params.toString() ? 'No task matches these filters.' : 'No task yet: create one from a template.',
        el('a', { href: params.toString() ? '/tasks' : '/templates' }, params.toString() ? 'Clear the filters' : 'Open the templates')));
      return;
    }
    const rows = page.tasks.map((t) => el('tr', { dataset: { taskId: t.task_id, status: t.status } },
      el('td', { class: 'num' }, el('a', { href: `/tasks/${t.task_id}` }, t.task_id)),
      el('td', {}, el('a', { href: `/tasks/${t.task_id}` }, `${t.namespace}.${t.name}`)),
      el('td', {}, t.version),
      el('td', {}, badge(t.status)),
      el('td', {}, t.initiator),
      el('td', {}, when(t.created_at)),
      el('td', { class: 'num' }, duration(t.created_at, t.completed_at))));
    const p = page.pagination;
    const nav = (o, label, disabled) => {
      const q2 = new URLSearchParams(params);
      q2.set('offset', o);
      return disabled ? el('span', { class: 'muted' }, label) : el('a', { href: '/tasks?' + q2 }, label);
    };
    table.replaceChildren(
      el('div', { class: 'table-wrap', tabindex: 0 }, el('table', {},
        el('caption', { class: 'muted' }, `Tasks ${p.offset + 1}–${p.offset + page.tasks.length} of ${countOf(page)}, newest first`),
        el('thead', {}, el('tr', {}, ['Id', 'Template', 'Version', 'State', 'Initiator', 'Created', 'Duration'].map((h, i) => el('th', { scope: 'col', class: i === 0 || i === 6 ? 'num' : undefined }, h)))),
        el('tbody', {}, rows))),
      el('nav', { class: 'pager', 'aria-label': 'Pages' },
        nav(Math.max(0, offset - PAGE_SIZE), '← Newer', offset === 0),
        nav(offset + PAGE_SIZE, 'Older →', !p.has_more)));
  };
  try { await load(); } catch (e) { table.replaceChildren(errorBox(e, () => load().catch(() => {}))); }
  const refresh = debounce(() => load().catch(() => {}), 500);
  onChange(refresh);
  every(15000, refresh);
}

// layout places the nodes of a DAG in columns by their longest path from a
// root, and in rows by order within a column.
function layout(nodes, parentsOf) {
  const level = new Map();
  const visit = (id, seen) => {
    if (level.has(id)) return level.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const ps = parentsOf(id);
    const l = ps.length ? Math.max(...ps.map((p) => visit(p, seen) + 1)) : 0;
    level.set(id, l);
    return l;
  };
  for (const n of nodes) visit(n, new Set());
  const cols = [];
  for (const n of nodes) (cols[level.get(n)] ||= []).push(n);
  const pos = new Map();
  cols.forEach((col, x) => col.forEach((n, y) => pos.set(n, { x, y })));
  return { pos, width: cols.length, height: Math.max(...cols.map((c) => c.length)) };
}

// dag draws steps {id, name, status, parents, href} as an SVG graph.
function dag(steps, label) {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const { pos, width, height } = layout(steps.map((s) => s.id), (id) => (byId.get(id).parents || []).filter((p) => byId.has(p)));
  const W = 180, H = 54, GX = 70, GY = 22, PAD = 16;
  const vw = PAD * 2 + width * W + (width - 1) * GX, vh = PAD * 2 + height * H + (height - 1) * GY;
  const at = (id) => { const p = pos.get(id); return { x: PAD + p.x * (W + GX), y: PAD + p.y * (H + GY) }; };
  const edges = [];
  for (const s of steps) {
    for (const p of s.parents || []) {
      if (!byId.has(p)) continue;
      const a = at(p), b = at(s.id);
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      edges.push(svg('path', { class: 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 6},${y2}`, 'marker-end': 'url(#arrow)' }));
    }
  }
  const nodes = steps.map((s) => {
    const { x, y } = at(s.id);
    const name = s.name.length > 22 ? s.name.slice(0, 21) + '…' : s.name;
    const g = svg('g', { class: `s-${s.status || 'pending'}` },
      s.name.length > 22 ? svg('title', {}, s.name) : null,
      svg('rect', { x, y, width: W, height: H, rx: 8 }),
      svg('text', { x: x + 10, y: y + 22 }, name),
      s.status ? svg('text', { class: 'st', x: x + 10, y: y + 40 }, s.status.replace('_', ' ')) : null);
    if (!s.href) return svg('g', { class: 'node' }, g);
    const a = svg('a', { class: 'node', href: s.href }, g);
    a.addEventListener('click', (ev) => { ev.preventDefault(); history.replaceState(null, '', s.href); focusStep(); });
    return a;
  });
  return el('figure', { class: 'dag', tabindex: 0, 'aria-label': label },
    svg('svg', { viewBox: `0 0 ${vw} ${vh}`, width: vw, height: vh },
      svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'edge' }))),
      edges, nodes));
}

function focusStep() {
  const id = location.hash.slice(1);
  if (!id) return;
  const d = document.getElementById(id);
  if (!d) return;
  document.querySelectorAll('.step.target').forEach((x) => x.classList.remove('target'));
  d.open = true;
  d.classList.add('target');
  d.scrollIntoView({ block: 'nearest' });
  d.querySelector('summary').focus();
}

function actorOf(meta) {
  return meta && meta.actor ? meta.actor : '';
}

function transitionsTable(trs, id) {
  if (!trs || trs.length === 0) return el('p', { class: 'muted' }, 'No transitions recorded.');
  return el('div', { class: 'table-wrap', tabindex: 0 }, el('table', { id },
    el('thead', {}, el('tr', {}, ['When', 'From', 'To', 'Actor', 'Details'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, trs.map((t) => {
      const meta = t.metadata || {};
      const rest = { ...meta };
      delete rest.actor;
      return el('tr', {}, el('td', {}, when(t.created_at)), el('td', {}, t.from_state ? badge(t.from_state) : '—'), el('td', {}, badge(t.to_state)),
        el('td', {}, actorOf(meta) || el('span', { class: 'muted' }, 'engine')),
        el('td', {}, Object.keys(rest).length ? el('code', {}, JSON.stringify(rest)) : ''));
    }))));
}

function stepErrorView(err) {
  if (!err) return null;
  return el('div', { class: 'step-error' },
    el('h4', {}, 'Last error'),
    el('p', { class: 'error' }, err.message),
    el('dl', { class: 'kv' },
      el('dt', {}, 'Kind'), el('dd', {}, err.kind || '—'),
      err.class ? [el('dt', {}, 'Class'), el('dd', {}, el('code', {}, err.class))] : null,
      el('dt', {}, 'Attempt'), el('dd', {}, err.attempt ?? '—'),
      el('dt', {}, 'At'), el('dd', {}, when(err.at)),
      err.retry_after ? [el('dt', {}, 'Retry after'), el('dd', {}, `${err.retry_after / 1e9} s`)] : null),
    err.details ? [el('h4', {}, 'Details'), json(err.details)] : null,
    err.stack ? [el('h4', {}, 'Stack or output'), el('pre', { tabindex: 0 }, err.stack)] : null);
}

async function taskPage(id) {
  document.title = `Task ${id} · Tasker`;
  let task;
  const header = el('div', {});
  const body = el('div', {});
  render(header, body);
  const openSteps = new Set();

  const load = async () => {
    const [t, trs] = await Promise.all([api(`/tasker/tasks/${encodeURIComponent(id)}`), api(`/tasker/tasks/${encodeURIComponent(id)}/transitions`).catch(() => ({ transitions: null }))]);
    task = t.task;
    document.title = `Task ${task.task_id} ${task.status} · Tasker`;
    document.querySelectorAll('details.step[open]').forEach((d) => openSteps.add(d.id));
    const steps = task.workflow_steps || [];
    const traceId = task.trace_id || '';
    header.replaceChildren(
      el('p', {}, el('a', { href: '/tasks' }, '← Tasks')),
      el('h1', {}, `Task ${task.task_id}`, badge(task.status), el('span', { class: 'muted' }, task.full_name)),
      el('div', { class: 'actions', id: 'task-actions' },
        task.status === 'error' ? guarded('Retry task', 'tasker.task:retry', () => confirmAction({
          title: `Retry task ${task.task_id}?`, text: 'Its failed steps get a new attempt (their retry counts start again).', ok: 'Retry',
          run: async () => { await api(`/tasker/tasks/${task.task_id}/retry`, { method: 'POST' }); await load(); return `Task ${task.task_id} is retried.`; },
        }), 'primary') : null,
        !FINAL.has(task.status) ? guarded('Cancel task', 'tasker.task:destroy', () => {
          const reason = el('input', { id: 'cancel-reason', 'aria-label': 'Reason (optional)', placeholder: 'Reason (optional)' });
          confirmAction({ title: `Cancel task ${task.task_id}?`, text: 'Its unfinished steps are cancelled; a cancelled task is not run again.', extra: reason, ok: 'Cancel task',
            run: async () => { await api(`/tasker/tasks/${task.task_id}?reason=${encodeURIComponent(reason.value)}`, { method: 'DELETE' }); await load(); return `Task ${task.task_id} is cancelled.`; } });
        }, 'danger') : null,
        session.trace_url && traceId ? el('a', { href: session.trace_url.replace('{trace_id}', traceId), rel: 'noopener' }, 'Open the trace') : null));
    const stepItems = steps.map((s) => {
      const d = el('details', { class: 'step', id: `step-${s.workflow_step_id}`, open: openSteps.has(`step-${s.workflow_step_id}`), dataset: { status: s.status, name: s.name } },
        el('summary', {}, badge(s.status), el('strong', {}, s.name), el('span', { class: 'muted' }, `${s.handler} · attempt ${s.attempts} of ${s.retry_limit}`),
          s.waiting_for_handler ? el('span', { class: 'waiting' }, ' · waiting for a worker') : null),
        el('div', {},
          s.waiting_for_handler ? el('p', { class: 'waiting', role: 'note' }, s.waiting_for_handler.message) : null,
          el('div', { class: 'actions' },
            !FINAL.has(s.status) && s.status !== 'in_progress' ? guarded('Resolve…', 'tasker.workflow_step:resolve', () => {
              const results = el('textarea', { id: 'resolve-results', 'aria-label': 'Results (JSON)' }, '{}');
              confirmAction({ title: `Resolve step ${s.name}?`, text: 'The step is marked resolved manually with these results; its dependents may then run.', extra: el('label', {}, 'Results (JSON)', results), ok: 'Resolve',
                run: async () => {
                  let value;
                  try { value = JSON.parse(results.value || 'null'); } catch { throw new Error('The results are not JSON: write an object such as {"ok": true}.'); }
                  await api(`/tasker/tasks/${task.task_id}/workflow_steps/${s.workflow_step_id}/resolve`, { method: 'POST', body: { results: value } });
                  await load();
                  return `Step ${s.name} is resolved.`;
                } });
            }) : null,
            !FINAL.has(s.status) ? guarded('Cancel step', 'tasker.workflow_step:destroy', () => confirmAction({
              title: `Cancel step ${s.name}?`, text: 'The step will not run again.', ok: 'Cancel step',
              run: async () => { await api(`/tasker/tasks/${task.task_id}/workflow_steps/${s.workflow_step_id}`, { method: 'DELETE' }); await load(); return `Step ${s.name} is cancelled.`; },
            }), 'danger') : null,
            guarded('Retry limit…', 'tasker.workflow_step:update', () => {
              const input = el('input', { id: 'retry-limit', type: 'number', min: 0, max: 1000, value: s.retry_limit, 'aria-label': 'Retry limit' });
              confirmAction({ title: `Retry limit of ${s.name}`, text: 'How many attempts the step may make in all.', extra: input, ok: 'Save',
                run: async () => {
                  await api(`/tasker/tasks/${task.task_id}/workflow_steps/${s.workflow_step_id}`, { method: 'PATCH', body: { retry_limit: Number(input.value) } });
                  await load();
                  return `The retry limit of ${s.name} is ${input.value}.`;
                } });
            })),
          el('dl', { class: 'kv' },
            el('dt', {}, 'Attempts'), el('dd', {}, `${s.attempts} (limit ${s.retry_limit}, ${s.retryable ? 'retryable' : 'not retryable'})`),
            el('dt', {}, 'Last attempted'), el('dd', {}, when(s.last_attempted_at)),
            el('dt', {}, 'Processed'), el('dd', {}, when(s.processed_at)),
            el('dt', {}, 'Run time'), el('dd', {}, s.processed_at ? duration(s.last_attempted_at, s.processed_at) : '—'),
            s.backoff_request_seconds ? [el('dt', {}, 'Backoff'), el('dd', {}, `${s.backoff_request_seconds} s`)] : null),
          stepErrorView(s.last_error),
          s.results !== undefined && s.results !== null ? [el('h4', {}, 'Results'), json(s.results)] : null,
          s.inputs !== undefined && s.inputs !== null ? [el('h4', {}, 'Inputs'), json(s.inputs)] : null,
          el('h4', {}, 'Attempts and audit trail'),
          el('div', { class: 'step-trail', dataset: { stepId: s.workflow_step_id } }, el('p', { class: 'muted' }, 'Open the step to load its trail.'))));
      d.addEventListener('toggle', () => { if (d.open) loadTrail(d, s); });
      if (d.open) loadTrail(d, s);
      return d;
    });
    const annotations = task.task_annotations || [];
    body.replaceChildren(
      dag(steps.map((s) => ({ id: s.workflow_step_id, name: s.name, status: s.status, parents: s.parents_ids, href: `#step-${s.workflow_step_id}` })), `The steps of task ${task.task_id} and their dependencies`),
      el('div', { class: 'cols' },
        el('section', { 'aria-labelledby': 'steps-h' }, el('h2', { id: 'steps-h' }, 'Steps'), stepItems),
        el('section', { 'aria-labelledby': 'about-h' },
          el('h2', { id: 'about-h' }, 'Task'),
          el('dl', { class: 'kv card' },
            el('dt', {}, 'Template'), el('dd', {}, el('a', { href: `/templates/${encodeURIComponent(task.namespace)}/${encodeURIComponent(task.name)}/${encodeURIComponent(task.version)}` }, task.full_name)),
            el('dt', {}, 'Initiator'), el('dd', {}, task.initiator), el('dt', {}, 'Source'), el('dd', {}, task.source_system),
            el('dt', {}, 'Reason'), el('dd', {}, task.reason), el('dt', {}, 'Tags'), el('dd', {}, (task.tags || []).join(', ') || '—'),
            el('dt', {}, 'Created'), el('dd', {}, when(task.created_at)), el('dt', {}, 'Completed'), el('dd', {}, when(task.completed_at)),
            el('dt', {}, 'Duration'), el('dd', {}, duration(task.created_at, task.completed_at))),
          el('h2', {}, 'Context'), json(task.context),
          el('h2', {}, 'Annotations'),
          annotations.length ? annotations.map((a) => el('div', {}, el('strong', {}, a.annotation_type), ' ', when(a.created_at), json(a.annotation))) : el('p', { class: 'muted' }, 'No annotations.'),
          el('h2', {}, 'Audit trail'), transitionsTable(trs.transitions, 'task-transitions'))));
    focusStep();
  };

  const loadTrail = async (d, s) => {
    const box = d.querySelector('.step-trail');
    try {
      const r = await api(`/tasker/tasks/${task.task_id}/workflow_steps/${s.workflow_step_id}`);
      box.replaceChildren(transitionsTable(r.step.transitions, `step-transitions-${s.workflow_step_id}`));
    } catch (e) {
      box.replaceChildren(el('p', { class: 'error' }, e.message));
    }
  };

  try {
    await load();
  } catch (e) {
    header.replaceChildren(el('p', {}, el('a', { href: '/tasks' }, '← Tasks')), el('h1', {}, `Task ${id}`));
    body.replaceChildren(errorBox(e, () => location.reload()));
    return;
  }
  const refresh = debounce(() => load().catch(() => {}), 150);
  onChange((c) => { if (String(c.task_id) === String(task.task_id)) refresh(); });
  every(10000, () => { if (!FINAL.has(task.status)) refresh(); }); // a change the feed missed
  window.addEventListener('hashchange', focusStep);
}

async function templatesPage() {
  document.title = 'Templates · Tasker';
  render(el('h1', {}, 'Templates'), el('p', { class: 'muted' }, 'Loading…'));
  try {
    const nss = await api('/tasker/handlers');
    if (!nss.namespaces || nss.namespaces.length === 0) {
      render(el('h1', {}, 'Templates'), empty('No template is registered: start tasker serve with --templates DIR.'));
      return;
    }
    const lists = await Promise.all(nss.namespaces.map((n) => api(`/tasker/handlers/${encodeURIComponent(n.name)}`)));
    const rows = lists.flatMap((l) => l.handlers.map((h) => el('tr', {},
      el('td', {}, h.namespace), el('td', {}, el('a', { href: `/templates/${encodeURIComponent(h.namespace)}/${encodeURIComponent(h.name)}/${encodeURIComponent(h.latest_version)}` }, h.name)),
      el('td', {}, h.versions.map((v, i) => [i ? ', ' : '', el('a', { href: `/templates/${encodeURIComponent(h.namespace)}/${encodeURIComponent(h.name)}/${encodeURIComponent(v)}` }, v)])),
      el('td', {}, el('a', { href: `/tasks?namespace=${encodeURIComponent(h.namespace)}&name=${encodeURIComponent(h.name)}` }, 'tasks')))));
    render(el('h1', {}, 'Templates'), el('div', { class: 'table-wrap', tabindex: 0 }, el('table', { id: 'templates' },
      el('thead', {}, el('tr', {}, ['Namespace', 'Template', 'Versions', ''].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows))));
  } catch (e) {
    render(el('h1', {}, 'Templates'), errorBox(e, () => location.reload()));
  }
}

// schemaForm builds inputs for the properties of a JSON Schema: strings,
// numbers, integers, booleans and enums as inputs, objects with properties
// as nested fieldsets, arrays of scalars as one item per line; anything
// else as JSON. It returns the form part and a function that reads the
// context (throwing an Error that names the field on bad input).
function schemaForm(schema) {
  const props = (schema && schema.properties) || {};
  if (Object.keys(props).length === 0) {
    const raw = el('textarea', { id: 'ctx-raw', 'aria-label': 'Context as JSON' }, '{}');
    return {
      part: el('div', {}, el('label', { for: 'ctx-raw' }, 'Context (JSON object)'), raw),
      read: () => {
        try { return JSON.parse(raw.value || '{}'); } catch { throw new Error('The context is not JSON: write an object such as {"order_id": 1}.'); }
      },
    };
  }
  const { part, read } = objectFields(schema, 'ctx', '');
  return { part: el('div', {}, part), read: () => read() || {} };
}

const SCALARS = new Set(['string', 'integer', 'number', 'boolean']);

// objectFields returns the fields of an object schema's properties (ids
// under idPrefix, names shown under path) and a reader of the object: with
// nothing filled in, undefined.
function objectFields(schema, idPrefix, path) {
  const required = new Set(schema.required || []);
  const readers = [];
  const fields = Object.entries(schema.properties || {}).map(([name, p]) => {
    const id = `${idPrefix}-${name}`;
    const where = path ? `${path}.${name}` : name;
    const req = required.has(name);
    const hint = p.description ? el('span', { class: 'muted' }, ` — ${p.description}`) : null;
    if (p.type === 'object' && p.properties && Object.keys(p.properties).length > 0) {
      const sub = objectFields(p, id, where);
      readers.push((obj) => { const v = sub.read(); if (v !== undefined || req) obj[name] = v || {}; });
      return el('fieldset', { class: 'field nested' }, el('legend', {}, name, req ? ' *' : '', hint), sub.part);
    }
    const label = el('label', { for: id }, name, req ? ' *' : '', hint);
    let input;
    if (Array.isArray(p.enum)) {
      input = el('select', { id, name: where }, req ? null : el('option', { value: '' }, '(none)'), p.enum.map((v) => el('option', { value: JSON.stringify(v) }, String(v))));
      readers.push((obj) => { if (input.value !== '') obj[name] = JSON.parse(input.value); });
    } else if (p.type === 'boolean') {
      input = el('input', { id, name: where, type: 'checkbox' });
      readers.push((obj) => { obj[name] = input.checked; });
    } else if (p.type === 'integer' || p.type === 'number') {
      input = el('input', { id, name: where, type: 'number', step: p.type === 'integer' ? 1 : 'any', required: req, min: p.minimum, max: p.maximum });
      readers.push((obj) => { if (input.value !== '') obj[name] = Number(input.value); });
    } else if (p.type === 'string') {
      input = el('input', { id, name: where, required: req, minlength: p.minLength, maxlength: p.maxLength, pattern: p.pattern });
      readers.push((obj) => { if (input.value !== '' || req) obj[name] = input.value; });
    } else if (p.type === 'array' && p.items && SCALARS.has(p.items.type)) {
      const kind = p.items.type;
      input = el('textarea', { id, name: where, rows: 3, placeholder: `one ${kind} a line` });
      readers.push((obj) => {
        const lines = input.value.split('\n').map((l) => l.trim()).filter((l) => l !== '');
        if (lines.length === 0 && !req) return;
        obj[name] = lines.map((l) => {
          if (kind === 'string') return l;
          if (kind === 'boolean') {
            if (l !== 'true' && l !== 'false') throw new Error(`${where}: "${l}" is not true or false`);
            return l === 'true';
          }
          const n = Number(l);
          if (!Number.isFinite(n) || (kind === 'integer' && !Number.isInteger(n))) throw new Error(`${where}: "${l}" is not ${kind === 'integer' ? 'an integer' : 'a number'}`);
          return n;
        });
      });
    } else {
      input = el('textarea', { id, name: where, placeholder: 'JSON' });
      readers.push((obj) => {
        if (input.value.trim() === '') return;
        try { obj[name] = JSON.parse(input.value); } catch { throw new Error(`${where}: not JSON`); }
      });
    }
    return el('div', { class: 'field' }, label, el('div', {}, input));
  });
  return {
    part: fields,
    read: () => {
      const obj = {};
      for (const r of readers) r(obj);
      return Object.keys(obj).length > 0 ? obj : undefined;
    },
  };
}

async function templatePage(ns, name, version) {
  document.title = `${ns}.${name}@${version} · Tasker`;
  let h;
  try {
    h = (await api(`/tasker/handlers/${encodeURIComponent(ns)}/${encodeURIComponent(name)}?version=${encodeURIComponent(version)}`)).handler;
  } catch (e) {
    render(el('p', {}, el('a', { href: '/templates' }, '← Templates')), el('h1', {}, `${ns}.${name}@${version}`), errorBox(e, () => location.reload()));
    return;
  }
  const sf = schemaForm(h.schema);
  const reason = el('input', { id: 'create-reason', name: 'reason', placeholder: 'why (optional)' });
  const err = el('p', { class: 'error', role: 'alert', hidden: true });
  const create = el('form', { class: 'card', id: 'create-task', 'aria-labelledby': 'create-h' },
    el('h2', { id: 'create-h' }, 'Create a task'), sf.part,
    el('div', { class: 'field' }, el('label', { for: 'create-reason' }, 'Reason'), reason), err,
    el('div', { class: 'actions' }, guarded('Create task', 'tasker.task:create', null, 'primary')));
  const submit = create.querySelector('button');
  if (can('tasker.task:create')) submit.type = 'submit';
  create.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    try {
      const context = sf.read();
      const r = await api('/tasker/tasks', { method: 'POST', body: { namespace: h.namespace, name: h.name, version: h.version, context, reason: reason.value || undefined } });
      location.assign(`/tasks/${r.task.task_id}`);
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  });
  const nodes = h.dependency_graph.nodes.map((n) => ({ id: n.id, name: n.name, parents: n.dependencies }));
  render(
    el('p', {}, el('a', { href: '/templates' }, '← Templates')),
    el('h1', {}, h.full_name, el('span', { class: 'muted' }, h.versions.length > 1 ? `versions ${h.versions.join(', ')}` : '')),
    h.description ? el('p', {}, h.description) : null,
    dag(nodes, `The steps of ${h.full_name}`),
    el('div', { class: 'cols' },
      el('section', {}, el('h2', {}, 'Steps'), el('div', { class: 'table-wrap', tabindex: 0 }, el('table', { id: 'step-templates' },
        el('thead', {}, el('tr', {}, ['Step', 'Handler', 'Depends on', 'Retries', 'Configuration'].map((x) => el('th', { scope: 'col' }, x)))),
        el('tbody', {}, h.step_templates.map((s) => el('tr', {}, el('td', {}, el('strong', {}, s.name), s.description && s.description !== s.name ? el('div', { class: 'muted' }, s.description) : null),
          el('td', {}, el('code', {}, s.handler)), el('td', {}, (s.depends_on || []).join(', ') || '—'),
          el('td', { class: 'num' }, s.retryable ? s.retry_limit : 'none'),
          el('td', {}, Object.keys(s.handler_config || {}).length ? json(s.handler_config) : '—'))))))),
      el('section', {}, create, el('h2', {}, 'Context schema'), h.schema ? json(h.schema) : el('p', { class: 'muted' }, 'Any JSON object.'))));
}

async function deadLettersPage() {
  document.title = 'Dead letters · Tasker';
  const load = async () => {
    const r = await api('/tasker/dead_letters?limit=200');
    const letters = r.dead_letters || [];
    const selected = new Set();
    const replay = (ids) => confirmAction({
      title: ids ? `Replay ${ids.length} dead letter${ids.length > 1 ? 's' : ''}?` : 'Replay every dead letter?',
      text: 'Each is delivered again with fresh attempts.', ok: 'Replay',
      run: async () => { const a = await api('/tasker/dead_letters/replay', { method: 'POST', body: ids ? { ids } : { all: true } }); await load(); return `${a.replayed} replayed.`; },
    });
    const replaySelected = guarded('Replay selected', 'tasker.dead_letter:replay', () => replay([...selected]), 'primary');
    replaySelected.disabled = true;
    const sync = () => { replaySelected.disabled = !can('tasker.dead_letter:replay') || selected.size === 0; };
    render(el('h1', {}, 'Dead letters'),
      el('p', { class: 'muted' }, 'Events a webhook or NATS subscription gave up on after its last attempt.'),
      letters.length === 0 ? empty('No dead letters: every event was delivered.') : [
        el('div', { class: 'actions' }, replaySelected, guarded('Replay all', 'tasker.dead_letter:replay', () => replay(null))),
        el('div', { class: 'table-wrap', tabindex: 0 }, el('table', { id: 'dead-letters' },
          el('thead', {}, el('tr', {}, ['', 'Id', 'Subscription', 'Event', 'Attempts', 'Last error', 'Created', 'Payload'].map((x) => el('th', { scope: 'col' }, x)))),
          el('tbody', {}, letters.map((d) => {
            const box = el('input', { type: 'checkbox', 'aria-label': `Select dead letter ${d.id}`, onchange: (ev) => { if (ev.target.checked) selected.add(d.id); else selected.delete(d.id); sync(); } });
            return el('tr', { dataset: { id: d.id } }, el('td', {}, box), el('td', { class: 'num' }, d.id), el('td', {}, d.subscription), el('td', {}, el('code', {}, d.event_name)),
              el('td', { class: 'num' }, d.attempts), el('td', { class: 'error' }, d.last_error || ''), el('td', {}, when(d.created_at)),
              el('td', {}, el('details', {}, el('summary', {}, 'show'), json(d.payload))));
          }))))]);
  };
  try { await load(); } catch (e) { render(el('h1', {}, 'Dead letters'), errorBox(e, () => location.reload())); }
}

// ---- start ----

function route() {
  const p = location.pathname;
  let m;
  const nav = (name) => document.querySelectorAll('[data-nav]').forEach((a) => { if (a.dataset.nav === name) a.setAttribute('aria-current', 'page'); });
  if (p === '/') { nav('overview'); return overviewPage(); }
  if (p === '/tasks') { nav('tasks'); return tasksPage(); }
  if ((m = p.match(/^\/tasks\/([^/]+)$/))) { nav('tasks'); return taskPage(decodeURIComponent(m[1])); }
  if (p === '/templates') { nav('templates'); return templatesPage(); }
  if ((m = p.match(/^\/templates\/([^/]+)\/([^/]+)\/([^/]+)$/))) { nav('templates'); return templatePage(...m.slice(1).map(decodeURIComponent)); }
  if (p === '/dead-letters') { nav('dead-letters'); return deadLettersPage(); }
  render(el('h1', {}, 'Not found'), empty('There is no page here.', el('a', { href: '/' }, 'Go to the overview')));
  return null;
}

async function start() {
  try {
    session = await api('/_/session');
  } catch (e) {
    render(el('h1', {}, 'Tasker'), errorBox(e, () => location.reload()));
    return;
  }
  document.getElementById('user').textContent = session.subject;
  document.getElementById('sign-out').hidden = !session.sign_in;
  connectLive();
  await route();
}

start();
