// Drives the Tasker dashboard of a running `tasker serve` in headless
// Chromium (playwright-core, the system's Chromium) as an operator would:
// sign in, find a failed task by filter, read the failing step's error and
// attempts, retry it and watch it complete without reloading, resolve a
// step, replay a dead letter; a user without tasker.task:retry sees the
// button disabled and is refused (403) when forcing it. Every page is
// checked with axe-core and photographed in light and dark themes.
//
// Environment: TASKER_URL, ADMIN_TOKEN, VIEWER_TOKEN, FLAG_FILE (the flaky
// step succeeds once it exists), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOTS (a directory; default: none taken).
// Prints one JSON line of findings; exits non-zero on the first failure.

import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';

const base = process.env.TASKER_URL;
const admin = process.env.ADMIN_TOKEN;
const viewer = process.env.VIEWER_TOKEN;
const shots = process.env.SCREENSHOTS || '';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const findings = { pages: {}, screenshots: [] };
const TIMEOUT = 20_000;

async function rest(path, { method = 'GET', body } = {}) {
  const res = await fetch(base + path, {
    method, headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function createTask(name) {
  const r = await rest('/tasker/tasks', { method: 'POST', body: { namespace: 'dashboard', name, context: {}, reason: 'e2e' } });
  return r.task.task_id;
}

async function waitState(id, state) {
  for (let i = 0; i < 400; i++) {
    const t = (await rest(`/tasker/tasks/${id}`)).task;
    if (t.status === state) return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`task ${id} never reached ${state}`);
}

// axeCheck runs axe-core on the page (evaluated through the DevTools
// protocol, which the page's CSP does not apply to) and fails on a serious
// or critical violation.
async function axeCheck(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  findings.pages[name] = { violations: result.length, serious: bad.length };
  assert.deepEqual(bad, [], `axe: serious violations on ${name}: ${JSON.stringify(bad, null, 2)}`);
}

async function snap(page, name) {
  if (!shots) return;
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    const file = `${shots}/${name}-${scheme}.png`;
    await page.screenshot({ path: file, fullPage: false });
    findings.screenshots.push(file);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

// checkCharts compares the overview's three charts with the series the
// API answers (GET /tasker/analytics/series of the page's span): one bar
// per non-empty bucket and state, one point per bucket with a value, every
// bucket a row of each chart's data table, the same numbers in it.
// The page's series and the API's are read a moment apart: when a bucket
// boundary passes between them (a minute, with 60 buckets in the hour),
// their rows are one bucket apart, so a mismatch is read again from a
// reloaded page, twice at most.
async function checkCharts(page, buckets) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await compareCharts(page, buckets);
    } catch (err) {
      if (attempt === 3 || !(err instanceof assert.AssertionError)) throw err;
      await page.reload();
      await page.waitForSelector('#chart-latency svg');
    }
  }
}

async function compareCharts(page, buckets) {
  const span = new URL(page.url()).searchParams.get('span') || '24h';
  const period = { '1h': 1, '24h': 24, '7d': 168 }[span];
  const rep = await rest(`/tasker/analytics/series?period=${period}&buckets=${buckets}`);
  assert.equal(rep.buckets.length, buckets);
  const got = await page.evaluate(() => {
    const q = (sel) => document.querySelectorAll(sel).length;
    const rows = (id) => [...document.querySelectorAll(`#${id} tbody tr`)].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    return {
      completeBars: q('#chart-throughput rect.s-complete'), errorBars: q('#chart-throughput rect.s-error'),
      stepPoints: q('#chart-throughput circle.s-in_progress'), ratePoints: q('#chart-errors circle'),
      p50Points: q('#chart-latency circle.s-complete'), p95Points: q('#chart-latency circle.s-cancelled'),
      throughputRows: rows('chart-throughput'), errorRows: rows('chart-errors').length, latencyRows: rows('chart-latency').length,
      svgLabels: [...document.querySelectorAll('.chart svg')].map((s) => s.getAttribute('aria-labelledby')),
      titles: [...document.querySelectorAll('.chart svg > title')].map((t) => t.textContent),
    };
  });
  const n = (f) => rep.buckets.filter(f).length;
  const finished = rep.buckets.reduce((a, b) => a + b.tasks_completed + b.tasks_failed, 0);
  assert.ok(finished > 0, 'the series has finished tasks');
  assert.deepEqual(got.titles, ['Throughput', 'Error rate', 'Step latency']);
  assert.equal(got.completeBars, n((b) => b.tasks_completed > 0), 'a bar per bucket with completed tasks');
  assert.ok(got.completeBars > 0);
  assert.equal(got.errorBars, n((b) => b.tasks_failed > 0), 'a bar per bucket with failed tasks');
  assert.equal(got.stepPoints, buckets, 'a steps point per bucket');
  assert.equal(got.ratePoints, n((b) => b.tasks_completed + b.tasks_failed > 0), 'an error-rate point per bucket with finished tasks');
  assert.equal(got.p50Points, n((b) => b.step_duration.count > 0));
  assert.equal(got.p95Points, got.p50Points);
  assert.equal(got.throughputRows.length, buckets);
  assert.equal(got.errorRows, buckets);
  assert.equal(got.latencyRows, buckets);
  rep.buckets.forEach((b, i) => {
    assert.deepEqual(got.throughputRows[i].map((v) => Number(v.replace(/[^0-9.]/g, ''))), [b.tasks_completed, b.tasks_failed, b.steps_completed],
      `data table row ${i}`);
  });
  for (const l of got.svgLabels) assert.match(l, /^chart-\w+-title chart-\w+-desc$/);
  return { buckets, completeBars: got.completeBars, errorBars: got.errorBars, ratePoints: got.ratePoints, latencyPoints: got.p50Points, finished };
}

// visit opens a page, checks it and photographs it.
async function visit(page, path, name, ready) {
  await page.goto(base + path);
  await ready();
  await axeCheck(page, name);
  await page.emulateMedia({ colorScheme: 'dark' });
  await axeCheck(page, name + ' (dark)');
  await page.emulateMedia({ colorScheme: 'light' });
  await snap(page, name);
}

function watch(page, label) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) findings.consoleErrors = [...(findings.consoleErrors || []), `${label}: ${m.text()}`];
  });
  page.on('pageerror', (e) => { findings.pageErrors = [...(findings.pageErrors || []), `${label}: ${e.message}`]; });
}

async function signIn(browser, token, label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  watch(page, label);
  await page.goto(base + '/tasks?status=error');
  assert.match(page.url(), /\/sign-in\?next=/, 'signed out, a page sends to /sign-in');
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/tasks\?status=error$/);
  return { context, page };
}

async function main() {
  if (shots) mkdirSync(shots, { recursive: true });
  const flaky = await createTask('dashboard_flaky');
  const stuck = await createTask('dashboard_stuck');
  const stuck2 = await createTask('dashboard_stuck');
  await Promise.all([waitState(flaky, 'error'), waitState(stuck, 'error'), waitState(stuck2, 'error')]);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    // Sign-in: a wrong token is refused on the page, the right one lands
    // where the user was going, in an HttpOnly, SameSite=Strict cookie.
    {
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const page = await context.newPage();
      watch(page, 'sign-in');
      await visit(page, '/sign-in', 'sign-in', () => page.waitForSelector('input[type=password][name=token]'));
      await page.fill('input[name=token]', 'tkr_wrong');
      await page.click('button[type=submit]');
      await page.waitForSelector('#sign-in-error');
      findings.wrongToken = await page.textContent('#sign-in-error');
      await context.close();
    }
    const { context, page } = await signIn(browser, admin, 'admin');
    const cookie = (await context.cookies()).find((c) => c.name === 'tasker_session');
    assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', `session cookie: ${JSON.stringify(cookie)}`);
    assert.equal(await page.evaluate(() => document.cookie.includes('tasker_session')), false, 'scripts cannot read the session');
    assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k !== 'tasker-theme').length), 0, 'nothing in local storage');

    // Find the failed task by filter.
    await page.waitForSelector('#tasks-table table');
    await visit(page, '/tasks?status=error', 'tasks', () => page.waitForSelector('#tasks-table table'));
    const row = page.locator(`tr[data-task-id="${flaky}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-status'), 'error');
    await row.locator('a').first().click();
    await page.waitForURL(new RegExp(`/tasks/${flaky}$`));

    // The failing step: its error and its attempts.
    const step = page.locator('details.step[data-name="charge"]');
    await step.locator('summary').click();
    const errorText = await step.locator('.step-error').textContent();
    assert.match(errorText, /exit status 1|exited|status 1/i, `the error is shown: ${errorText}`);
    await step.locator('table[id^=step-transitions] tbody tr').first().waitFor();
    findings.attemptRows = await step.locator('table[id^=step-transitions] tbody tr').count();
    assert.ok(findings.attemptRows >= 3, 'pending → in_progress → error');
    await axeCheck(page, 'task');
    await snap(page, 'task');

    // Retry it and watch it complete, live: the page is not reloaded.
    writeFileSync(process.env.FLAG_FILE, 'ok');
    await page.evaluate(() => { window.__notReloaded = true; });
    await page.click('#task-actions button:has-text("Retry task")');
    await page.click('#confirm-ok');
    await page.waitForSelector('h1 .badge.s-complete', { timeout: TIMEOUT });
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the state changed without a reload');
    findings.retriedLive = true;

    // Resolve a step of another failed task, with results; the audit trail
    // names the acting user.
    await page.goto(`${base}/tasks/${stuck}`);
    const stuckStep = page.locator('details.step[data-name="stuck"]');
    await stuckStep.locator('summary').click();
    await stuckStep.locator('button:has-text("Resolve")').click();
    await page.fill('#resolve-results', '{"resolved_by": "e2e"}');
    await page.click('#confirm-ok');
    await page.waitForSelector('details.step[data-name="stuck"][data-status="resolved_manually"]');
    await page.waitForSelector('h1 .badge.s-resolved_manually');
    await page.locator('details.step[data-name="stuck"] table[id^=step-transitions] td:has-text("admin")').first().waitFor();
    findings.resolved = true;

    // Replay a dead letter.
    await visit(page, '/dead-letters', 'dead-letters', () => page.waitForSelector('#dead-letters tbody tr'));
    await page.locator('#dead-letters tbody tr input[type=checkbox]').first().check();
    await page.click('button:has-text("Replay selected")');
    await page.click('#confirm-ok');
    await page.locator('#toast .msg:has-text("1 replayed")').waitFor();
    findings.replayed = true;

    // The other pages.
    await visit(page, '/', 'overview', async () => {
      await page.waitForSelector('#task-counts');
      await page.waitForSelector('#chart-throughput svg');
    });
    findings.charts = await checkCharts(page, 48);
    // The charts' data tables, open, pass axe too.
    for (const id of ['chart-throughput', 'chart-errors', 'chart-latency']) await page.click(`#${id}-data summary`);
    await axeCheck(page, 'overview (data tables)');
    // The period picker: a link per span, the current one marked.
    await page.click('.spans a:has-text("Last hour")');
    await page.waitForURL(/\/\?span=1h$/);
    await page.waitForSelector('#chart-latency svg');
    assert.equal(await page.getAttribute('.spans a[aria-current="true"]', 'href'), '/?span=1h');
    findings.chartsHour = await checkCharts(page, 60);
    await visit(page, '/templates', 'templates', () => page.waitForSelector('#templates tbody tr'));
    await visit(page, '/templates/dashboard/dashboard_flaky/1.0.0', 'template', () => page.waitForSelector('#step-templates tbody tr'));

    // Create a task from the form the schema draws: a nested object and an
    // array of strings, read back through the API.
    await page.fill('#ctx-order_id', '42');
    await page.fill('#ctx-customer-email', 'ada@example.com');
    await page.check('#ctx-customer-vip');
    await page.fill('#ctx-skus', 'A-1\n\nB-2');
    await page.click('#create-task button[type=submit]');
    await page.waitForURL(/\/tasks\/\d+$/);
    const createdId = page.url().split('/').pop();
    findings.formContext = await page.evaluate(async (id) => (await (await fetch(`/tasker/tasks/${id}`)).json()).task.context, createdId);
    assert.deepEqual(findings.formContext, { order_id: 42, customer: { email: 'ada@example.com', vip: true }, skus: ['A-1', 'B-2'] });

    // A step no worker runs: its task page says it waits, and for what.
    const remoteId = await page.evaluate(async () => (await (await fetch('/tasker/tasks', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ namespace: 'dashboard', name: 'dashboard_remote', version: '1.0.0', context: {} }) })).json()).task.task_id);
    await page.goto(`${base}/tasks/${remoteId}`);
    const ship = page.locator('details.step[data-name="ship"]');
    await ship.locator('summary .waiting').waitFor();
    await ship.locator('summary').click();
    const waitText = await ship.locator('p.waiting').textContent();
    assert.match(waitText, /shipping/, `the wait names the queue: ${waitText}`);
    findings.waitingShown = true;

    // On a phone's width, nothing overflows the page sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/tasks/${flaky}`);
    await page.waitForSelector('details.step');
    findings.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap, .dag, pre'))
      .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`));
    assert.ok(findings.phoneOverflow <= 1, `horizontal overflow on a phone: ${findings.phoneOverflow}px: ${wide.join(', ')}`);
    await context.close();

    // A user without tasker.task:retry: the button is disabled and names
    // the permission; forcing the request is refused by the API.
    const v = await signIn(browser, viewer, 'viewer');
    await v.page.goto(`${base}/tasks/${stuck2}`);
    const retry = v.page.locator('#task-actions button:has-text("Retry task")');
    await retry.waitFor();
    assert.equal(await retry.isDisabled(), true, 'retry is disabled');
    findings.disabledTitle = await retry.getAttribute('title');
    assert.match(findings.disabledTitle, /tasker\.task:retry/);
    findings.forcedRetry = await v.page.evaluate(async (id) => (await fetch(`/tasker/tasks/${id}/retry`, { method: 'POST', headers: { 'Content-Type': 'application/json' } })).status, stuck2);
    assert.equal(findings.forcedRetry, 403);
    // Signing out ends the session.
    await v.page.click('#sign-out button');
    await v.page.waitForURL(/\/sign-in$/);
    await v.page.goto(`${base}/tasks`);
    assert.match(v.page.url(), /\/sign-in/);
    await v.context.close();
  } finally {
    await browser.close();
  }
  assert.deepEqual(findings.pageErrors || [], [], 'script errors');
  assert.deepEqual(findings.consoleErrors || [], [], 'console errors (a CSP violation is one)');
  console.log(JSON.stringify(findings));
}

main().catch((e) => { console.error(e.stack || String(e)); console.log(JSON.stringify(findings)); process.exit(1); });
