// The window console (窗口端) as a clerk uses it, in a real headless
// Chromium against the real hallcall binary: which buttons each step of
// a ticket's journey allows and which one is drawn as the next, the
// ticket's 事项, category and channel, its history in Chinese, held
// tickets called back in one click, a hall whose windows start paused,
// 签退 asked first, refusals that say what to do, and a lost connection
// shown plainly.
//
// Alone: (cd tests/browser && node --test console.test.mjs) with
// HALLCALL_BIN pointing at a built hallcall (default target/debug).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SHOTS, HASH, PASSWORD, zoneNearNoon, Hallcall, launchChromium } from './harness.mjs';



// "desk": windows start ready to call. Window 2 serves a zone nobody
// takes tickets for, so its 叫号 is refused. "late": windows start paused
// (open_paused), as some halls want until the clerk is ready.
const CONFIG = `
[[hall]]
id = "desk"
name = "窗口端测试大厅"
time_zone = "${zoneNearNoon()}"
window = [
  { number = 1, name = "综合受理", serves = ["general"] },
  { number = 2, name = "户籍", serves = ["police"] },
]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w1", role = "window", windows = [1], password = "${HASH}" },
  { user = "w2", role = "window", windows = [2], password = "${HASH}" },
]
[[hall.category]]
id = "elderly"
name = "70岁以上老年人"
[[hall.zone]]
id = "general"
name = "综合服务"
prefix = "A"
service = [
  { id = "social", name = "社保医保" },
  { id = "civil", name = "民政救助" },
]
[[hall.zone]]
id = "police"
name = "户籍警务"
prefix = "C"
service = [{ id = "hukou", name = "户口迁移" }]

[[hall]]
id = "late"
name = "签到暂停测试大厅"
time_zone = "${zoneNearNoon()}"
window = [{ number = 1, name = "综合受理", serves = ["general"] }]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w1", role = "window", windows = [1], password = "${HASH}" },
]
[hall.policy]
open_paused = true
[[hall.zone]]
id = "general"
name = "综合服务"
prefix = "A"
service = [{ id = "social", name = "社保医保" }]

[[hall]]
id = "quick"
name = "叫号即办大厅"
time_zone = "${zoneNearNoon()}"
window = [{ number = 1, name = "综合受理", serves = ["general"] }]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w1", role = "window", windows = [1], password = "${HASH}" },
]
[hall.policy]
finish_from_called = true
recall_limit = 1
[[hall.zone]]
id = "general"
name = "综合服务"
prefix = "A"
service = [{ id = "social", name = "社保医保" }]
`;

const hallcall = new Hallcall(CONFIG, 'console');
let base;
let browser;

const startServer = () => hallcall.start();
const stopServer = () => hallcall.stop();

before(async () => {
  await startServer();
  base = hallcall.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopServer();
});

/** A console page, signed in as `user`, that records its errors. */
async function consoleOf(hall, user, { width = 1366, height = 768 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.setDefaultTimeout(5000);
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) {
      page.errors.push(m.text());
    }
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${base}/console?hall=${hall}`);
  await page.locator('form.login input[name=user]').fill(user);
  await page.locator('form.login input[name=password]').fill(PASSWORD);
  await page.locator('form.login input[name=password]').press('Enter');
  await page.locator('.overlay').waitFor({ state: 'detached' });
  return page;
}

const tokens = new Map();
async function tokenOf(hall, user) {
  const who = `${hall}/${user}`;
  if (!tokens.has(who)) {
    const r = await fetch(`${base}/api/v1/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hall, user, password: PASSWORD }),
    });
    tokens.set(who, (await r.json()).token);
  }
  return tokens.get(who);
}

async function post(hall, user, path, body) {
  const res = await fetch(`${base}/api/v1/halls/${hall}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenOf(hall, user)}` },
    body: JSON.stringify(body ?? {}),
  });
  const json = await res.json();
  assert.ok(res.ok, JSON.stringify(json));
  return json;
}

async function get(hall, user, path) {
  const res = await fetch(`${base}/api/v1/halls/${hall}${path}`, { headers: { authorization: `Bearer ${await tokenOf(hall, user)}` } });
  return res.json();
}

/** Issues a ticket at the guide desk's API; its number. */
async function issue(hall, body) {
  return (await post(hall, 'guide', '/tickets', body)).ticket.number;
}

/** Waits until exactly `enabled` buttons are enabled and `next` is the one
 * drawn as the next step (null: none). */
async function expectButtons(page, enabled, next, step) {
  const want = JSON.stringify({ enabled: [...enabled].sort(), next });
  const deadline = Date.now() + 5000;
  for (;;) {
    const got = await page.evaluate(() => ({
      enabled: [...document.querySelectorAll('[data-action]')].filter((b) => !b.disabled).map((b) => b.dataset.action).sort(),
      next: [...document.querySelectorAll('[data-action].next')].filter((b) => !b.disabled).map((b) => b.dataset.action)[0] ?? null,
    }));
    if (JSON.stringify(got) === want) return;
    if (Date.now() > deadline) assert.deepEqual(got, JSON.parse(want), `buttons ${step}`);
    await page.waitForTimeout(50);
  }
}

/** The next step is drawn larger than the other buttons. */
async function nextIsProminent(page) {
  const [next, other] = await page.evaluate(() => {
    const size = (b) => b && [b.getBoundingClientRect().width, parseFloat(getComputedStyle(b).fontSize), getComputedStyle(b).backgroundColor];
    return [size(document.querySelector('[data-action].next:not([disabled])')),
      size([...document.querySelectorAll('[data-action]:not(.next):not([disabled])')][0])];
  });
  assert.ok(next, 'a next step is shown');
  if (other) {
    assert.ok(next[1] > other[1], `the next step's type is larger: ${next} vs ${other}`);
    assert.notEqual(next[2], other[2], 'and in its own colour');
  }
}

async function shots(page, name) {
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.screenshot({ path: join(SHOTS, `console-${name}-1366x768.png`) });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.screenshot({ path: join(SHOTS, `console-${name}-1920x1080.png`) });
  await page.setViewportSize({ width: 1366, height: 768 });
}

function noErrors(page) {
  assert.deepEqual(page.errors, [], `console errors on ${page.url()}`);
}

// 暂停 and 自动叫号 stay available with a ticket in hand (a window on
// auto-call is rarely free, and pausing then stops the next call).
const FREE = ['call-next', 'call-back', 'pause', 'auto-call', 'close'];
const CALLED = ['recall', 'skip', 'start', 'transfer', 'hold', 'pause', 'auto-call'];
const SERVING = ['finish', 'transfer', 'hold', 'pause', 'auto-call'];
const PAUSED = ['resume', 'auto-call', 'close'];

test('a ticket\'s journey: each step lights the buttons it allows and the likely next one, with its 事项, category, channel and history in Chinese', async () => {
  const page = await consoleOf('desk', 'w1');
  await expectButtons(page, ['open'], 'open', 'before 签到');
  await page.locator('#window-state', { hasText: '未签到' }).waitFor();

  await page.locator('[data-action=open]').click();
  await expectButtons(page, FREE, 'call-next', 'after 签到');
  await page.locator('#window-state', { hasText: '空闲' }).waitFor();
  await nextIsProminent(page);

  const number = await issue('desk', { zone: 'general', service: 'civil', category: 'elderly', channel: 'kiosk' });
  await page.locator('#queues', { hasText: number }).waitFor();
  await page.locator('[data-action=call-next]').click();
  await page.locator('#current', { hasText: number }).waitFor();
  // 办结 stays off until 开始办理: the server refuses it for a ticket only called.
  await expectButtons(page, CALLED, 'start', 'a ticket called');
  await nextIsProminent(page);
  await page.locator('#current-detail', { hasText: '已叫号' }).waitFor();
  await page.locator('#facts [data-fact=service]', { hasText: '民政救助（综合服务）' }).waitFor();
  await page.locator('#facts [data-fact=category]', { hasText: '绿色通道 · 70岁以上老年人' }).waitFor();
  await page.locator('#facts [data-fact=channel]', { hasText: '自助机' }).waitFor();

  await page.locator('[data-action=recall]').click();
  await page.locator('#history li', { hasText: '重呼（1号窗口）' }).waitFor();
  await page.locator('#facts', { hasText: '已重呼 1 次' }).waitFor();
  await expectButtons(page, CALLED, 'start', 'after 重呼');
  const history = await page.locator('#history li').allTextContents();
  assert.equal(history.length, 3, JSON.stringify(history));
  assert.match(history[0], /^\d{2}:\d{2}:\d{2} ?取号$/);
  assert.match(history[1], /^\d{2}:\d{2}:\d{2} ?叫号（1号窗口）$/);
  assert.match(history[2], /^\d{2}:\d{2}:\d{2} ?重呼（1号窗口）$/);
  await shots(page, 'called');

  await page.locator('[data-action=start]').click();
  await page.locator('#current-detail', { hasText: '正在办理' }).waitFor();
  await expectButtons(page, SERVING, 'finish', 'serving');
  await nextIsProminent(page);
  await page.locator('#history li', { hasText: '开始办理（1号窗口）' }).waitFor();
  assert.doesNotMatch(await page.locator('#history').textContent(), /[a-z@]/, 'no raw step names');
  await shots(page, 'serving');

  // A key for what is not possible now sends nothing and says what is.
  const posts = [];
  page.on('request', (r) => r.method() === 'POST' && posts.push(r.url()));
  await page.keyboard.press('n');
  await page.locator('.toast', { hasText: '现在不能「叫号」' }).waitFor();
  assert.deepEqual(posts, []);

  await page.keyboard.press('f');
  await page.locator('#current', { hasText: '—' }).waitFor();
  await expectButtons(page, FREE, 'call-next', 'after 办结');

  await page.locator('[data-action=pause]').click();
  await page.locator('#dialog select[name=reason]').selectOption('lunch');
  // 午休 suggests an hour; the clerk says half an hour.
  assert.equal(await page.locator('#dialog select[name=minutes]').inputValue(), '60');
  await page.locator('#dialog select[name=minutes]').selectOption('30');
  await page.locator('#dialog [data-dialog=ok]').click();
  await page.locator('#window-state', { hasText: '暂停服务 · 午休 · ' }).waitFor();
  const w1 = await get('desk', 'w1', '/windows/1');
  assert.equal(w1.resumes_at - w1.paused_since, 30 * 60_000);
  await page.locator('#window-state', { hasText: '恢复服务' }).waitFor();
  await expectButtons(page, PAUSED, 'resume', 'paused for lunch');
  assert.equal(await page.locator('[data-action=resume] .label').textContent(), '恢复服务');
  await page.locator('[data-action=resume]').click();
  await expectButtons(page, FREE, 'call-next', 'resumed');

  // 自动叫号: on, a new ticket comes by itself; it can be turned off with
  // that ticket in hand.
  await page.locator('[data-action=auto-call]').click();
  await page.locator('[data-action=auto-call][aria-pressed=true]', { hasText: '自动叫号（已开）' }).waitFor();
  await page.locator('#next-hint', { hasText: '自动叫号已开' }).waitFor();
  const auto = await issue('desk', { zone: 'general', service: 'social' });
  await page.locator('#current', { hasText: auto }).waitFor();
  await page.locator('#facts [data-fact=channel]', { hasText: '现场取号' }).waitFor();
  await page.locator('#facts [data-fact=category]', { hasText: '普通' }).waitFor();
  await expectButtons(page, CALLED, 'start', 'auto-called');
  await page.locator('[data-action=auto-call]').click();
  await page.locator('[data-action=auto-call][aria-pressed=false]').waitFor();
  await page.locator('[data-action=start]').click();
  await page.locator('[data-action=finish]').click();
  await expectButtons(page, FREE, 'call-next', 'auto-call off, finished');
  noErrors(page);
  await page.close();
});

test('a held ticket (挂起) is listed with its own 回呼, which brings it back, also after a reload', async () => {
  const page = await consoleOf('desk', 'w1');
  const open = await get('desk', 'w1', '/windows/1');
  if (!open.open) await page.locator('[data-action=open]').click();
  await expectButtons(page, FREE, 'call-next', 'ready');
  const number = await issue('desk', { zone: 'general', service: 'social' });
  await page.locator('[data-action=call-next]').click();
  await page.locator('#current', { hasText: number }).waitFor();
  await page.locator('[data-action=hold]').click();
  await page.locator('#current', { hasText: '—' }).waitFor();
  const row = page.locator('#held li', { hasText: number });
  await row.waitFor();
  await page.locator('#held li', { hasText: '社保医保' }).waitFor();
  await expectButtons(page, FREE, 'call-next', 'after 挂起');
  await shots(page, 'held');

  // The list is the server's: another browser at this window (a second
  // screen, a replaced PC) shows it too, and a reload keeps it.
  const other = await consoleOf('desk', 'w1');
  await other.locator('#held li', { hasText: number }).waitFor();
  await other.locator('#held li', { hasText: '社保医保' }).waitFor();
  await other.close();
  await page.reload();
  await row.waitFor();
  await page.locator(`[data-call-back="${number}"]:not([disabled])`).click();
  await page.locator('#current', { hasText: number }).waitFor();
  await expectButtons(page, CALLED, 'start', 'called back');
  await page.locator('#held li').first().waitFor({ state: 'detached' });
  await page.locator('#held-none', { hasText: '没有挂起的号码' }).waitFor();
  const t = await get('desk', 'w1', `/tickets/${number}`);
  assert.equal(t.state, 'called');

  // Held while serving, called back once it is free again.
  await page.locator('[data-action=start]').click();
  await expectButtons(page, SERVING, 'finish', 'serving the called-back ticket');
  await page.locator('[data-action=hold]').click();
  await row.waitFor();
  // A held ticket's 回呼 waits while another ticket is in hand.
  const next = await issue('desk', { zone: 'general', service: 'social' });
  await page.locator('[data-action=call-next]').click();
  await page.locator('#current', { hasText: next }).waitFor();
  assert.equal(await page.locator(`[data-call-back="${number}"]`).isDisabled(), true);
  await page.locator('[data-action=start]').click();
  await page.locator('[data-action=finish]').click();
  await page.locator(`[data-call-back="${number}"]:not([disabled])`).click();
  await page.locator('#current', { hasText: number }).waitFor();
  await page.locator('[data-action=start]').click();
  await page.locator('[data-action=finish]').click();
  await page.locator('#current', { hasText: '—' }).waitFor();
  noErrors(page);
  await page.close();
});

test('in a hall that records no start, 办结 is the next step straight after 叫号, and 重呼 stops at the hall\'s limit', async () => {
  const page = await consoleOf('quick', 'w1');
  await page.locator('[data-action=open]').click();
  await expectButtons(page, FREE, 'call-next', 'ready');
  const number = await issue('quick', { zone: 'general', service: 'social' });
  await page.locator('[data-action=call-next]').click();
  await page.locator('#current', { hasText: number }).waitFor();
  await expectButtons(page, [...CALLED, 'finish'], 'finish', 'called, finish allowed');
  await page.locator('#next-hint', { hasText: '办完点「办结」' }).waitFor();
  await nextIsProminent(page);
  await page.locator('[data-action=recall]').click();
  await expectButtons(page, [...CALLED, 'finish'].filter((a) => a !== 'recall'), 'finish', 'recalled once: the limit');
  await page.locator('[data-action=finish]').click();
  await page.locator('#current', { hasText: '—' }).waitFor();
  const t = await get('quick', 'w1', `/tickets/${number}`);
  assert.equal(t.state, 'finished');
  assert.deepEqual(t.history.map((h) => h.what), ['issued', 'called', 'recalled', 'finished']);
  await shots(page, 'finish-from-called');
  noErrors(page);
  await page.close();
});

test('in a hall whose windows start paused, 签到 leaves one clear 开始服务 button', async () => {
  const page = await consoleOf('late', 'w1');
  await expectButtons(page, ['open'], 'open', 'before 签到');
  await page.locator('[data-action=open]').click();
  await expectButtons(page, PAUSED, 'resume', 'signed in, paused');
  assert.equal(await page.locator('[data-action=resume] .label').textContent(), '开始服务');
  await page.locator('#window-state', { hasText: '签到未开始' }).waitFor();
  await page.locator('#next-hint', { hasText: '开始服务' }).waitFor();
  await nextIsProminent(page);
  await shots(page, 'signed-in');
  await page.locator('[data-action=resume]').click();
  await expectButtons(page, FREE, 'call-next', 'after 开始服务');
  await page.locator('#window-state', { hasText: '空闲' }).waitFor();
  noErrors(page);
  await page.close();
});

test('签退 asks first: cancelling keeps the window open, confirming closes it', async () => {
  const page = await consoleOf('desk', 'w2');
  await page.locator('[data-action=open]').click();
  await expectButtons(page, FREE, 'call-next', 'after 签到');
  const closes = [];
  page.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/close') && closes.push(r.url()));

  await page.locator('[data-action=close]').click();
  const dialog = page.locator('#dialog[open]');
  await dialog.waitFor();
  await dialog.locator('h3', { hasText: '确定签退' }).waitFor();
  await shots(page, 'close-ask');
  await dialog.locator('[data-dialog=cancel]').click();
  await dialog.waitFor({ state: 'detached' });
  await page.waitForTimeout(300);
  assert.deepEqual(closes, [], 'nothing sent');
  assert.equal((await get('desk', 'w2', '/windows/2')).open, true);
  await expectButtons(page, FREE, 'call-next', 'after dismissing');

  // Escape dismisses too.
  await page.locator('[data-action=close]').click();
  await dialog.waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.deepEqual(closes, []);

  await page.locator('[data-action=close]').click();
  await dialog.locator('[data-dialog=ok]', { hasText: '签退' }).click();
  await expectButtons(page, ['open'], 'open', 'after 签退');
  assert.equal(closes.length, 1);
  assert.equal((await get('desk', 'w2', '/windows/2')).open, false);
  noErrors(page);
  await page.close();
});

test('a refusal says what happened and what to do next', async () => {
  const page = await consoleOf('desk', 'w2');
  if (!(await get('desk', 'w2', '/windows/2')).open) await page.locator('[data-action=open]').click();
  await expectButtons(page, FREE, 'call-next', 'after 签到');
  // Nobody waits for window 2's zone.
  await page.locator('[data-action=call-next]').click();
  const toast = page.locator('.toast.error', { hasText: '暂无等候的号码' });
  await toast.waitFor();
  assert.match(await toast.textContent(), /^操作被拒绝：暂无等候的号码。.*稍后再叫号.*自动叫号/);
  await page.locator('#last-error', { hasText: '暂无等候的号码' }).waitFor();
  await shots(page, 'refused');

  // A ticket that is not held anywhere, typed into 回呼.
  await page.locator('[data-action=call-back]').click();
  await page.locator('#dialog input').fill('c999');
  await page.locator('#dialog [data-dialog=ok]').click();
  await page.locator('.toast.error', { hasText: /没有这个号码。请核对号码/ }).waitFor();
  await expectButtons(page, FREE, 'call-next', 'after the refusals');
  await page.locator('[data-action=close]').click();
  await page.locator('#dialog [data-dialog=ok]').click();
  await expectButtons(page, ['open'], 'open', 'closed again');
  noErrors(page);
  await page.close();
});

test('a lost connection is shown as a banner, gone once the server is back', async () => {
  const page = await consoleOf('desk', 'w1');
  const banner = page.locator('#offline-banner');
  // Window 1 is open and free (the tests above left it so).
  await page.locator('[data-action=call-next]:not([disabled])').waitFor();
  assert.equal(await banner.isVisible(), false);
  await stopServer();
  await banner.waitFor({ state: 'visible' });
  assert.match(await banner.textContent(), /连接已断开.*正在.*重新连接/);
  const box = await banner.boundingBox();
  assert.ok(box.width > 1000 && box.y < 120, `across the top of the page: ${JSON.stringify(box)}`);
  await shots(page, 'offline');
  await startServer();
  await banner.waitFor({ state: 'hidden', timeout: 20000 });
  // And the page works again.
  await expectButtons(page, FREE, 'call-next', 'reconnected');
  noErrors(page);
  await page.close();
});
