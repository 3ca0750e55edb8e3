// The administration page (系统管理) as an administrator uses it while the
// hall is open, in a real headless Chromium against the real hallcall
// binary: a window made to serve another zone while its tickets wait, and
// the window's console following without a reload; a refusal that says
// why; the document with its line-numbered mistakes; the history with a
// diff and a way back; the hall display's notice changed live.
//
// Alone: (cd tests/browser && node --test admin.test.mjs) with
// HALLCALL_BIN pointing at a built hallcall (default target/debug).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SHOTS, HASH, PASSWORD, zoneNearNoon, Hallcall, launchChromium, signIn, noErrors } from './harness.mjs';

const CONFIG = `
[[hall]]
id = "adm"
name = "管理测试大厅"
time_zone = "${zoneNearNoon()}"
window = [
  { number = 1, name = "综合受理", serves = ["general"] },
  { number = 2, name = "户籍", serves = ["police"] },
]
account = [
  { user = "admin", role = "admin", password = "${HASH}" },
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "display", role = "display", password = "${HASH}" },
  { user = "w1", role = "window", windows = [1], password = "${HASH}" },
  { user = "w2", role = "window", windows = [2], password = "${HASH}" },
]
[[hall.zone]]
id = "general"
name = "综合服务"
prefix = "A"
service = [{ id = "social", name = "社保医保" }]
[[hall.zone]]
id = "police"
name = "户籍警务"
prefix = "C"
service = [{ id = "hukou", name = "户口迁移" }]
`;

const hallcall = new Hallcall(CONFIG, 'admin');
let base;
let browser;

before(async () => {
  await hallcall.start();
  base = hallcall.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await hallcall.stop();
});

async function pageOf(path, user, { width = 1366, height = 768 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.setDefaultTimeout(8000);
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) {
      page.errors.push(m.text());
    }
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${base}${path}`);
  await signIn(page, user);
  return page;
}

const tokens = new Map();
async function tokenOf(user) {
  if (!tokens.has(user)) {
    const r = await fetch(`${base}/api/v1/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hall: 'adm', user, password: PASSWORD }),
    });
    tokens.set(user, (await r.json()).token);
  }
  return tokens.get(user);
}

async function api(user, method, path, body) {
  const res = await fetch(`${base}/api/v1/halls/adm${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenOf(user)}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** Runs `save` and waits until the page shows the version it made. */
async function saving(page, save) {
  const before = await page.locator('#version').textContent();
  await save();
  await page.waitForFunction((b) => document.getElementById('version').textContent !== b, before);
}

async function shots(page, name) {
  for (const [w, h] of [[1366, 768], [390, 844]]) {
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: join(SHOTS, `admin-${name}-${w}x${h}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1366, height: 768 });
}

test('a window serves another zone from the administration page, and its console follows without a reload', async () => {
  const consolePage = await pageOf('/console?hall=adm', 'w1');
  await consolePage.evaluate(() => { window.sameDocument = true; });
  const admin = await pageOf('/admin?hall=adm', 'admin');
  await admin.locator('#version').filter({ hasText: '1' }).waitFor();
  assert.equal(await admin.locator('#windows tr[data-window]').count(), 2);

  const { json: issued } = await api('guide', 'POST', '/tickets', { zone: 'police', service: 'hukou' });
  const waiting = issued.ticket.number;
  assert.ok(!(await consolePage.locator('#queues').innerText()).includes(waiting), 'not this window\'s yet');

  // 修改 → 添加一项 → 户籍警务 (whole zone) → 保存.
  await admin.locator('[data-edit-window="1"]').click();
  const dialog = admin.locator('form.dialog');
  await dialog.locator('#add-serve').click();
  await dialog.locator('.serves-list li').nth(1).locator('select').selectOption('police');
  await dialog.locator('input[name=reason]').fill('户籍排队长，1号窗口支援');
  await shots(admin, 'window-dialog');
  await dialog.locator('button[type=submit]').click();
  await dialog.waitFor({ state: 'detached' });
  await admin.locator('#version').filter({ hasText: '2' }).waitFor();
  const row = await admin.locator('#windows tr[data-window="1"]').innerText();
  assert.match(row, /户籍警务/);

  // The console shows the police queue now, in the same document.
  await consolePage.locator('#queues').filter({ hasText: waiting }).waitFor();
  assert.equal(await consolePage.evaluate(() => window.sameDocument), true, 'no reload');
  await consolePage.locator('[data-action="open"]').click().catch(() => {});
  const { json: config } = await api('admin', 'GET', '/config');
  assert.equal(config.version, 2);
  assert.equal(config.history[1].reason, '户籍排队长，1号窗口支援');
  assert.deepEqual(config.hall.windows.find((w) => w.number === 1).serves, ['general', 'police']);

  // The history: version 2 against 1, line by line.
  await admin.locator('#history tr[data-version="2"] button').first().click();
  await admin.locator('#diff .add').first().waitFor();
  assert.match(await admin.locator('#diff').innerText(), /\+ .*police/);
  await shots(admin, 'edited');
  noErrors(consolePage, admin);
  await consolePage.close();
  await admin.close();
});

test('a change that would strand a citizen is refused with the reason, and the document shows its mistakes by line', async () => {
  const admin = await pageOf('/admin?hall=adm', 'admin');
  await admin.locator('#windows tr[data-window]').first().waitFor();
  // Window 2 is open: it cannot be taken out.
  assert.equal((await api('w2', 'POST', '/windows/2/open', {})).status, 200);
  admin.once('dialog', (d) => d.accept());
  await admin.locator('#windows tr[data-window="2"] button.danger').click();
  // Its account still names it: the validation says so, with the place.
  const toast = admin.locator('.toast.error');
  await toast.waitFor();
  assert.match(await toast.innerText(), /account "w2": no window 2/);
  assert.equal(await admin.locator('#windows tr[data-window]').count(), 2, 'nothing changed');

  // Both taken out in the document: valid, but window 2 is open.
  const doc = admin.locator('#doc');
  const text = await doc.inputValue();
  const without = text.split('\n').filter((l) => !l.includes('number = 2,') && !l.includes('user = "w2"')).join('\n');
  await doc.fill(without);
  await admin.locator('#doc-form button[type=submit]').click();
  await admin.locator('#doc-errors').filter({ hasText: 'window 2 is open: close it before taking it out' }).waitFor();

  // A mistake in the document: refused with its line, nothing saved.
  await doc.fill(text.replace('prefix = "A"', 'prefix = 7'));
  await admin.locator('#doc-form button[type=submit]').click();
  await admin.locator('#doc-errors').filter({ hasText: /:\d+:\d+:/ }).waitFor();
  const { json: config } = await api('admin', 'GET', '/config');
  await shots(admin, 'refused');

  // Back to version 1 from the history: a new version with 1's document.
  admin.once('dialog', (d) => d.accept());
  await admin.locator('#history tr[data-version="1"] button').last().click();
  await admin.locator('#version').filter({ hasText: String(config.version + 1) }).waitFor();
  const { json: after } = await api('admin', 'GET', '/config');
  assert.deepEqual(after.hall.windows.find((w) => w.number === 1).serves, ['general']);
  noErrors(admin);
  await admin.close();
});

test('the hall display takes a new notice while it runs', async () => {
  const screen = await pageOf('/hall?hall=adm', 'display', { width: 1920, height: 1080 });
  await screen.evaluate(() => { window.sameDocument = true; });
  const admin = await pageOf('/admin?hall=adm', 'admin');
  await admin.locator('#windows tr[data-window]').first().waitFor();
  await admin.locator('#notice').fill('今日下午三点起暂停办理不动产业务');
  await admin.locator('#notice-form button[type=submit]').click();
  await screen.locator('#notice').filter({ hasText: '今日下午三点起暂停办理不动产业务' }).waitFor();
  assert.equal(await screen.evaluate(() => window.sameDocument), true, 'no reload');

  // An account made here signs in with its password; only its hash is kept.
  await admin.locator('#add-account').click();
  const dialog = admin.locator('form.dialog');
  await dialog.locator('input[name=user]').fill('w9');
  await dialog.locator('select[name=role]').selectOption('window');
  await dialog.locator('input[name=windows]').fill('1');
  await dialog.locator('input[name=name]').fill('王芳');
  await dialog.locator('input[name=staff_number]').fill('0410');
  await dialog.locator('input[name=password]').fill('a long new password');
  await dialog.locator('button[type=submit]').click();
  await dialog.waitFor({ state: 'detached' });
  await admin.locator('#accounts tr[data-account="w9"]').waitFor();
  const r = await fetch(`${base}/api/v1/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hall: 'adm', user: 'w9', password: 'a long new password' }),
  });
  assert.equal(r.status, 200);
  const { json: config } = await api('admin', 'GET', '/config');
  assert.ok(!config.text.includes('a long new password'));
  noErrors(screen, admin);
  await screen.close();
  await admin.close();
});

test('a zone gets a new service and the calling rules change, from their forms', async () => {
  const admin = await pageOf('/admin?hall=adm', 'admin');
  await admin.locator('#zones tr[data-zone="police"]').waitFor();
  const desk = await pageOf('/desk?hall=adm', 'guide');
  await desk.evaluate(() => { window.sameDocument = true; });

  await admin.locator('[data-edit-zone="police"]').click();
  const dialog = admin.locator('form.dialog');
  await dialog.locator('#add-service').click();
  const row = dialog.locator('.service-row').last();
  await row.locator('[data-f=id]').fill('idcard');
  await row.locator('[data-f=name]').fill('身份证办理');
  await dialog.locator('button[type=submit]').click();
  await dialog.waitFor({ state: 'detached' });
  await admin.locator('#zones tr[data-zone="police"]').filter({ hasText: '身份证办理' }).waitFor();

  // Its hours: from 06:00 to 18:00 every day (the hall sets none: all day;
  // the test's hall is at about noon, local time).
  await admin.locator('[data-edit-zone="police"]').click();
  await dialog.locator('input[name=open]').fill('06:00-18:00');
  await dialog.locator('button[type=submit]').click();
  await dialog.waitFor({ state: 'detached' });

  // A priority category, and the voice said twice more slowly in both languages.
  await admin.locator('#category-id').fill('veteran');
  await admin.locator('#category-name').fill('退役军人');
  await admin.locator('#category-form button[type=submit]').click();
  await admin.locator('#categories tr[data-category="veteran"]').waitFor();
  const voice = admin.locator('#voice-form');
  await voice.locator('input[name=lang-en]').check();
  await voice.locator('input[name=gap_ms]').fill('120');
  await saving(admin, () => voice.locator('button[type=submit]').click());

  const policy = admin.locator('#policy-form');
  await policy.locator('input[name=recall_limit]').fill('3');
  await policy.locator('input[name=open_paused]').check();
  await saving(admin, () => policy.locator('button[type=submit]').click());
  await shots(admin, 'zones-policy');

  const { json: config } = await api('admin', 'GET', '/config');
  assert.equal(config.hall.policy.recall_limit, 3);
  assert.equal(config.hall.policy.open_paused, true);
  assert.deepEqual(config.hall.zones.find((z) => z.id === 'police').services.map((s) => s.id), ['hukou', 'idcard']);
  assert.match(config.text, /recall_limit = 3/);
  const police = config.hall.zones.find((z) => z.id === 'police');
  assert.deepEqual([police.days.length, police.open], [7, ['06:00-18:00']]);
  assert.deepEqual(config.hall.categories.map((c) => c.id), ['veteran']);
  assert.deepEqual([config.hall.voice.languages, config.hall.voice.gap_ms], [['zh', 'en'], 120]);
  // The guide desk offers the new service, in the same document.
  // The service list shows once its zone is chosen.
  await desk.locator('#zones button', { hasText: '户籍警务' }).click();
  await desk.locator('body').filter({ hasText: '身份证办理' }).waitFor();
  assert.equal(await desk.evaluate(() => window.sameDocument), true, 'no reload');
  const { status } = await api('guide', 'POST', '/tickets', { zone: 'police', service: 'idcard' });
  assert.equal(status, 201, 'a ticket for the new service');
  noErrors(admin, desk);
  await admin.close();
  await desk.close();
});
