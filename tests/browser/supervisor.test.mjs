// The supervisor board (值班长, /supervisor?hall=ID) of a large hall, in a
// real headless Chromium against the real binary: 63 windows and 18
// zones, the size of the 普宁 sample (config/puning.toml).
//
// Alone: (cd tests/browser && HALLCALL_BIN=… node --test supervisor.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SHOTS, HASH, PASSWORD, zoneNearNoon, Hallcall, launchChromium, signIn } from './harness.mjs';

// The password hallcall-demo.
const HALL = 'big';
const WINDOWS = 63;
const ZONE_NAMES = ['综合受理', '市场监管', '税务', '不动产登记', '住房城乡建设', '生态环境', '人力资源社会保障', '医疗保障',
  '公安户政', '交通运输', '卫生健康', '民政', '公积金', '水电气报装', '残联', '退役军人事务', '司法公证', '广播电视'];
const ZONES = ZONE_NAMES.map((name, i) => ({ id: `z${String(i + 1).padStart(2, '0')}`, name, prefix: String.fromCharCode(65 + i) }));
const zoneOfWindow = (n) => ZONES[(n - 1) % ZONES.length];


const CONFIG = `
[[hall]]
id = "${HALL}"
name = "大厅测试政务服务中心"
name_en = "Large Test Hall"
time_zone = "${zoneNearNoon()}"
window = [
${Array.from({ length: WINDOWS }, (_, i) => `  { number = ${i + 1}, name = "${zoneOfWindow(i + 1).name}", serves = ["${zoneOfWindow(i + 1).id}"] },`).join('\n')}
]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w", role = "window", windows = [${Array.from({ length: WINDOWS }, (_, i) => i + 1).join(', ')}], password = "${HASH}", name = "王芳", staff_number = "0507" },
  { user = "supervisor", role = "supervisor", password = "${HASH}" },
  { user = "admin", role = "admin", password = "${HASH}" },
  { user = "display", role = "display", password = "${HASH}" },
]
${ZONES.map((z) => `[[hall.zone]]
id = "${z.id}"
name = "${z.name}"
prefix = "${z.prefix}"
service = [{ id = "s", name = "${z.name}事项" }]`).join('\n')}
`;


const hallcall = new Hallcall(CONFIG, 'supervisor');
let base;
let browser;

before(async () => {
  await hallcall.start({ within: 60000 });
  base = hallcall.base;
  browser = await launchChromium();
  await busyHall();
});

after(async () => {
  await browser?.close();
  await hallcall.stop();
});

const tokens = new Map();
async function tokenOf(user) {
  // One sign-in per user (sign-in is rate-limited), shared by parallel calls.
  if (!tokens.has(user)) {
    tokens.set(user, fetch(`${base}/api/v1/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hall: HALL, user, password: PASSWORD }),
    }).then(async (r) => {
      assert.equal(r.status, 200, `sign-in of ${user}`);
      return (await r.json()).token;
    }));
  }
  return tokens.get(user);
}

/** POSTs as `user` (or as nobody, for the citizen's routes). */
async function post(user, path, body) {
  const headers = { 'idempotency-key': `${Date.now()}-${Math.random()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (user) headers.authorization = `Bearer ${await tokenOf(user)}`;
  const res = await fetch(`${base}/api/v1${path}`, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function get(user, path) {
  const res = await fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${await tokenOf(user)}` } });
  assert.equal(res.status, 200, path);
  return res.json();
}

const act = (n, action, body) => post('w', `/halls/${HALL}/windows/${n}/${action}`, body);
const issue = (zone) => post('guide', `/halls/${HALL}/tickets`, { zone, service: 's' });

/** Opens window `n` ready to call (a hall may open windows paused). */
async function openWindow(n) {
  // Signed on as the account, named as configured (王芳（工号0507）).
  const r = await act(n, 'open');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await act(n, 'resume');
}

/** Runs `f` over `items`, a few at a time. */
async function pool(items, f, width = 6) {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    while (queue.length) await f(queue.shift());
  }));
}

/** A hall in the middle of its morning: most windows open, some serving,
 * some called, some paused for one reason or another, a few not open. */
const PAUSED = { 5: 'lunch', 12: 'meeting', 23: 'training', 40: 'fault' };
async function busyHall() {
  await pool(Array.from({ length: 54 }, (_, i) => i + 1), openWindow);
  await pool(ZONES.flatMap((z, i) => Array.from({ length: 2 + (i % 5) }, () => z.id)), async (z) => {
    assert.equal((await issue(z)).status, 201);
  });
  await pool(Array.from({ length: 30 }, (_, i) => i + 1).filter((n) => !PAUSED[n]), async (n) => {
    if ((await act(n, 'call-next')).status === 200 && n % 3) await act(n, 'start');
  });
  for (const [n, reason] of Object.entries(PAUSED)) {
    const r = await act(n, 'pause', { reason });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
}

async function open(path, { width = 1920, height = 1080 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) page.errors.push(m.text());
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${base}${path}`);
  return page;
}


async function board(user = 'supervisor', size) {
  const page = await open(`/supervisor?hall=${HALL}`, size);
  await signIn(page, user);
  await page.locator(`[data-window="${WINDOWS}"]`).waitFor();
  return page;
}

const shot = (page, name, fullPage = false) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });

test('at 1920×1080 all 63 windows show as tiles inside the screen, without scrolling', async () => {
  const page = await board();
  const boxes = await page.locator('[data-window]').evaluateAll((els) => els.map((e) => {
    const r = e.getBoundingClientRect();
    return { n: e.dataset.window, top: r.top, left: r.left, bottom: r.bottom, right: r.right };
  }));
  assert.equal(boxes.length, WINDOWS, 'one tile per window');
  const outside = boxes.filter((b) => b.top < 0 || b.left < 0 || b.bottom > 1080 || b.right > 1920);
  assert.deepEqual(outside, [], 'every tile inside 1920×1080');
  assert.equal(await page.evaluate(() => window.scrollY), 0);
  // Each tile says its number, and the ticket in hand where there is one.
  const inHand = (await get('supervisor', `/halls/${HALL}/windows`)).windows.filter((w) => w.current);
  assert.ok(inHand.length > 0);
  for (const w of inHand) await page.locator(`[data-window="${w.number}"]`, { hasText: w.current }).waitFor();
  await shot(page, 'supervisor-1920x1080');
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.waitForTimeout(300);
  await shot(page, 'supervisor-1366x768');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a paused window shows why, and for how long', async () => {
  const page = await board();
  await page.locator('[data-window="5"]', { hasText: '午休' }).waitFor({ timeout: 10000 });
  await page.locator('[data-window="12"]', { hasText: '开会' }).waitFor({ timeout: 10000 });
  assert.match(await page.locator('[data-window="5"]').textContent(), /\d\d:\d\d/, 'how long it has been paused');
  // A pause given while the board is open shows at once.
  const r = await act(33, 'pause', { reason: 'break', minutes: 15 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.locator('[data-window="33"]', { hasText: '暂离' }).waitFor({ timeout: 10000 });
  await page.locator('#paused-list', { hasText: '33号窗口 暂离' }).waitFor({ timeout: 10000 });
  // With the time the clerk said they would be back.
  const back = await page.evaluate((ms) => new Date(ms).toLocaleTimeString('zh-CN', { hour12: false, hour: '2-digit', minute: '2-digit' }), r.body.window.resumes_at);
  await page.locator('[data-paused="33"]', { hasText: `${back} 恢复服务` }).waitFor({ timeout: 10000 });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the zones\' waits are drawn as a chart with one bar per zone', async () => {
  const page = await board();
  await page.locator('#zone-chart svg').waitFor({ timeout: 10000 });
  const zones = await page.locator('#zone-chart svg [data-zone]').evaluateAll((els) => els.map((e) => e.dataset.zone));
  assert.deepEqual(zones, ZONES.map((z) => z.id));
  // The bar of a zone with people waiting this long is drawn, and its label
  // names the zone and its queue.
  const waiting = (await get('supervisor', `/halls/${HALL}/zones`)).zones ?? [];
  const longest = waiting.filter((z) => z.waiting).sort((a, b) => b.longest_wait_ms - a.longest_wait_ms)[0];
  if (longest) {
    const label = await page.locator(`#zone-chart [data-zone="${longest.zone}"] text.label`).textContent();
    assert.ok(label.includes(`${longest.waiting}人`), label);
  }
  assert.deepEqual(page.errors, []);
  await page.close();
});

/** A ticket of zone `z` served at window `n` and rated through the citizen's route. */
async function servedAndRated(n, level, comment) {
  const issued = await issue(zoneOfWindow(n).id);
  assert.equal(issued.status, 201);
  const number = issued.body.ticket.number;
  for (const [a, body] of [['call', { ticket: number }], ['start'], ['finish']]) {
    const r = await act(n, a, body);
    assert.equal(r.status, 200, `${a}: ${JSON.stringify(r.body)}`);
  }
  const rated = await post(null, `/tickets/${encodeURIComponent(issued.body.token)}/rating`, { level, comment });
  assert.equal(rated.status, 200, JSON.stringify(rated.body));
  return number;
}

test('a bad rating shows with its comment; 核实 records a follow-up; the list comes back after a reload', async () => {
  // Windows 50 and 51 are open and idle.
  const earlier = await servedAndRated(50, 'dissatisfied', '材料要求没有一次说清楚');
  const page = await board();
  // Given before the board was opened: listed all the same (the server
  // lists the day's bad ratings), none said to be missing.
  await page.locator(`[data-bad="${earlier}"]`, { hasText: '材料要求没有一次说清楚' }).waitFor();
  await page.locator('#bad-missing').waitFor({ state: 'hidden' });

  // Given while the board is open: it appears by itself.
  const comment = '等候一个多小时，窗口人员态度冷淡';
  const number = await servedAndRated(51, 'very_dissatisfied', comment);
  const item = page.locator(`[data-bad="${number}"]`);
  await item.waitFor({ timeout: 10000 });
  assert.match(await item.textContent(), new RegExp(`${comment}[\\s\\S]*|非常不满意`));
  await item.locator('.comment', { hasText: comment }).waitFor();
  await item.locator('.head', { hasText: '非常不满意' }).waitFor();
  await item.locator('.head', { hasText: '51号窗口 · 王芳（工号0507）' }).waitFor();
  await shot(page, 'supervisor-bad-ratings');

  // 核实: a short note, then the step shows as done with it.
  await item.locator('[data-step=verified]').click();
  await item.locator('[data-note=verified]').fill('调取录像，属实，已提醒');
  await item.locator('[data-follow-up=verified] button[type=submit]').click();
  await item.locator('[data-step-done=verified]', { hasText: '调取录像，属实，已提醒' }).waitFor({ timeout: 10000 });
  const t = await get('supervisor', `/halls/${HALL}/tickets/${number}`);
  assert.deepEqual(t.follow_ups.map((f) => [f.step, f.note]), [['verified', '调取录像，属实，已提醒']]);
  await item.locator('[data-step=rectified]').waitFor();
  await item.locator('[data-step=verified]').waitFor({ state: 'detached' });

  // After a reload both are listed again, the follow-up with them.
  await page.reload();
  await page.locator(`[data-bad="${number}"] [data-step-done=verified]`, { hasText: '调取录像' }).waitFor({ timeout: 15000 });
  await page.locator(`[data-bad="${earlier}"]`, { hasText: '材料要求没有一次说清楚' }).waitFor();
  await page.locator('#bad-missing').waitFor({ state: 'hidden' });
  await shot(page, 'supervisor-follow-up');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('alerts, actions, the pairing card and the report link are still on the board', async () => {
  const page = await board('admin', { width: 1366, height: 768 });
  for (const sel of ['#alerts', '#ratings', '#ticket', '[data-op=cancel]', '[data-op=reactivate]', '[data-op=move]',
    '#pair-form', '#pair-code-input', '#pair-account', '#pair-name', '#pair', '#devices']) {
    await page.locator(sel).waitFor({ state: 'attached' });
  }
  assert.equal(await page.locator('#report-link').getAttribute('href'), `/report?hall=${HALL}`);
  // 作废 from the board.
  const waiting = await issue('z18');
  await page.locator('#ticket').fill(waiting.body.ticket.number);
  await page.locator('[data-op=cancel]').click();
  await page.locator('.toast', { hasText: '已作废' }).waitFor();
  // A flood of phone tickets (手机取号) cleared in one action, asked first.
  const phones = [];
  for (const phone of ['13900139001', '13900139002']) {
    const r = await post(null, `/halls/${HALL}/mobile-tickets`, { zone: 'z18', service: 's', id_number: phone });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    phones.push(r.body.ticket.number);
  }
  const desk = await issue('z18');
  await page.locator('#phone-zone').selectOption('z18');
  page.once('dialog', (d) => d.accept());
  await page.locator('#cancel-phone').click();
  await page.locator('.toast', { hasText: '已作废 2 张手机取号' }).waitFor();
  for (const n of phones) assert.equal((await get('supervisor', `/halls/${HALL}/tickets/${n}`)).state, 'cancelled');
  assert.equal((await get('supervisor', `/halls/${HALL}/tickets/${desk.body.ticket.number}`)).state, 'waiting');
  // A tile opens its window's details, with 关闭窗口.
  await page.locator('[data-window="54"]').click();
  await page.locator('#window-detail', { hasText: '54号窗口' }).waitFor();
  await page.locator('#window-detail button').click();
  await page.locator('[data-window="54"][data-state=closed]').waitFor({ timeout: 10000 });
  assert.deepEqual(page.errors, []);
  await page.close();
});
