// The pages in a real headless Chromium (Debian's chromium, driven by
// playwright-core), against the real hallcall binary.
//
// Run by scripts/test.sh; alone: (cd tests/browser && npm ci && npm test)
// with HALLCALL_BIN pointing at a built hallcall (default target/debug).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect } from 'node:net';
import jsQR from 'jsqr';
import { SHOTS, HASH, PASSWORD, zoneNearNoon, Hallcall, launchChromium, signIn, noErrors } from './harness.mjs';

// The kiosk's settings PIN, 2468.
const PIN_HASH = '$argon2id$v=19$m=19456,t=2,p=1$E1Y6rtHExXEAKsK4u5TT4A$t6F4/JxplpahGoptl5E9bIcPHEHpfsLG31MjsxGK6WE';


const CONFIG = `
[[hall]]
id = "e2e"
name = "浏览器测试大厅"
name_en = "Browser Test Hall"
time_zone = "${zoneNearNoon()}"
window = [
  { number = 1, name = "综合受理", name_en = "Intake", serves = ["general"] },
  { number = 2, name = "户籍", name_en = "Household", serves = ["police", "general", "early"] },
]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w1", role = "window", windows = [1], password = "${HASH}" },
  { user = "w2", role = "window", windows = [2], password = "${HASH}", name = "王芳", staff_number = "0212" },
  { user = "ev2", role = "evaluator", windows = [2], password = "${HASH}" },
  { user = "display", role = "display", password = "${HASH}" },
  { user = "supervisor", role = "supervisor", password = "${HASH}" },
  { user = "admin", role = "admin", password = "${HASH}" },
  { user = "kiosk", role = "kiosk", password = "${HASH}", pin = "${PIN_HASH}" },
]
[hall.voice]
play = ["browser"]
[[hall.category]]
id = "elderly"
name = "70岁以上老年人"
[[hall.zone]]
id = "general"
name = "综合服务"
name_en = "General"
prefix = "A"
service = [
  { id = "social", name = "社保医保", name_en = "Social insurance" },
  { id = "civil", name = "民政救助", name_en = "Civil affairs" },
]
[[hall.zone]]
id = "police"
name = "户籍警务"
name_en = "Household registration"
prefix = "C"
service = [{ id = "hukou", name = "户口迁移", name_en = "Moving household" }]
# Open an hour in the small hours only: closed whenever the tests run.
[[hall.zone]]
id = "early"
name = "早间服务"
name_en = "Early service"
prefix = "E"
hours = { open = ["03:30-04:30"] }
service = [{ id = "early", name = "早间事项" }]

# A hall for the estimated waits: window 2 serves both zones, police
# first; its clock near noon, as the first hall's.
[[hall]]
id = "est"
name = "等候估计测试大厅"
time_zone = "${zoneNearNoon()}"
window = [
  { number = 1, name = "综合受理", serves = ["general"] },
  { number = 2, name = "户籍", serves = ["police", "general"] },
  { number = 3, name = "户籍", serves = ["police"] },
]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w1", role = "window", windows = [1], password = "${HASH}" },
  { user = "w2", role = "window", windows = [2], password = "${HASH}" },
  { user = "w3", role = "window", windows = [3], password = "${HASH}" },
  { user = "supervisor", role = "supervisor", password = "${HASH}" },
  { user = "display", role = "display", password = "${HASH}" },
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

# A hall of its own for the display that goes offline: four windows, so
# calls in every state can be in hand at once.
[[hall]]
id = "away"
name = "离线测试大厅"
name_en = "Offline Test Hall"
time_zone = "${zoneNearNoon()}"
window = [
  { number = 1, name = "综合受理", serves = ["general"] },
  { number = 2, name = "综合受理", serves = ["general"] },
  { number = 3, name = "综合受理", serves = ["general"] },
  { number = 4, name = "综合受理", serves = ["general"] },
]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w", role = "window", windows = [1, 2, 3, 4], password = "${HASH}" },
  { user = "display", role = "display", password = "${HASH}" },
]
[hall.voice]
play = ["browser"]
repeat = 1
[[hall.zone]]
id = "general"
name = "综合服务"
prefix = "A"
service = [{ id = "social", name = "社保医保" }]
`;

const hallcall = new Hallcall(CONFIG, 'browser');
let port;
let browser;
let base;

const startServer = () => hallcall.start();
const stopServer = () => hallcall.stop();

before(async () => {
  await startServer();
  ({ port, base } = hallcall);
  // The kiosk flags of displays/README.md.
  browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
});

after(async () => {
  await browser?.close();
  await stopServer();
});

/** A page that records every console error and uncaught exception. */
async function open(path, { width = 1366, height = 768, origin = base } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.errors = [];
  page.on('console', (m) => {
    // A refused sound needs a click; reconnecting logs failed sockets.
    if (m.type() === 'error' && !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) {
      page.errors.push(m.text());
    }
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${origin}${path}`);
  return page;
}


/** Signs a device that shows a pairing code in, as a supervisor would
 * from the board: the code read off its screen, approved for `account`. */
async function pair(page, account, hall = 'e2e') {
  const code = page.locator('#pair-code', { hasText: /^\d{3} \d{3}$/ });
  await code.waitFor();
  const digits = (await code.textContent()).replace(/\D/g, '');
  const r = await apiAs('supervisor', `/halls/${hall}/pairings/${digits}/approve`, { account }, hall);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.locator('.overlay').waitFor({ state: 'detached' });
}

/** Sign-in tokens by hall and user, so a burst of calls takes no sign-ins. */
const tokens = new Map();

/** A bearer token for `user` of `hall`, signed in once. */
async function tokenOf(user, hall) {
  const who = `${hall}/${user}`;
  if (!tokens.has(who)) {
    const login = await (await fetch(`${base}/api/v1/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hall, user, password: PASSWORD }),
    })).json();
    tokens.set(who, login.token);
  }
  return tokens.get(who);
}

/** POSTs to the API as `user` of the test hall (or of `hall`). */
async function apiAs(user, path, body, hall = 'e2e') {
  const json = { 'content-type': 'application/json' };
  const who = `${hall}/${user}`;
  await tokenOf(user, hall);
  const res = await fetch(`${base}/api/v1${path}`, {
    method: 'POST',
    headers: { ...(body === undefined ? {} : json), authorization: `Bearer ${tokens.get(who)}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // A server restart may have forgotten the token.
  if (res.status === 401 && tokens.delete(who)) return apiAs(user, path, body, hall);
  return { status: res.status, body: await res.json() };
}

async function shot(page, name, fullPage = false) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}


let hall;
let windowScreen;
let led;

test('issue at the guide desk, call at the window console, see it on every screen', async () => {
  hall = await open('/hall?hall=e2e', { width: 1920, height: 1080 });
  await signIn(hall, 'display');
  windowScreen = await open('/window?hall=e2e&window=1');
  await signIn(windowScreen, 'display');
  led = await open('/led?hall=e2e&window=1', { width: 1024, height: 160 });
  await pair(led, 'display');

  const desk = await open('/desk?hall=e2e');
  await signIn(desk, 'guide');
  // Search by pinyin initials: 社保医保 → SBYB.
  await desk.locator('#search').fill('sbyb');
  await desk.locator('[data-match="general/social"]').click();
  const issued = desk.waitForResponse((r) => r.url().endsWith('/halls/e2e/tickets') && r.request().method() === 'POST');
  await desk.locator('#issue').click();
  const ticket = await (await issued).json();
  assert.equal(ticket.ticket.number, 'A001');
  await desk.locator('#issued-number', { hasText: 'A001' }).waitFor();
  await shot(desk, 'desk');

  const console_ = await open('/console?hall=e2e');
  await signIn(console_, 'w1');
  await console_.locator('[data-action=open]').click();
  // Signed on once the button for it is disabled.
  await console_.locator('[data-action=open][disabled]').waitFor({ state: 'attached' });
  await console_.locator('#queues', { hasText: 'A001' }).waitFor();
  // Ready to call once 叫号 is on (签到's answer has come back).
  await console_.locator('[data-action=call-next]:not([disabled])').waitFor();
  // A refusal is shown, not swallowed, in the page's own words (not the
  // server's English): 回呼 of a number that does not exist.
  await console_.locator('[data-action=call-back]').click();
  await console_.locator('#dialog input').fill('Z999');
  await console_.locator('#dialog [data-dialog=ok]').click();
  await console_.locator('.toast.error', { hasText: '没有这个号码' }).waitFor();
  await console_.locator('[data-action=call-next]:not([disabled])').waitFor();
  await console_.keyboard.press('n');
  await console_.locator('#current', { hasText: 'A001' }).waitFor();

  await hall.locator('#latest-number', { hasText: 'A001' }).waitFor();
  await hall.locator('#recent', { hasText: 'A001' }).waitFor();
  await windowScreen.locator('#now', { hasText: 'A001' }).waitFor();
  await led.locator('#line', { hasText: 'A001 1号窗口' }).waitFor();


  await console_.locator('[data-action=start]').click();
  await console_.locator('#current-detail', { hasText: '正在办理' }).waitFor();
  await shot(console_, 'console');

  // After a reload the console comes back to the ticket in hand.
  await console_.reload();
  await console_.locator('#current', { hasText: 'A001' }).waitFor();

  await shot(hall, 'hall-1920x1080');
  await hall.setViewportSize({ width: 1366, height: 768 });
  await shot(hall, 'hall-1366x768');
  await shot(windowScreen, 'window');
  await shot(led, 'led');

  // The slip's QR code opens the citizen's page for this ticket.
  const qr = await desk.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = 400;
    c.height = 400;
    const g = c.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, 400, 400);
    g.drawImage(img, 0, 0, 400, 400);
    return Array.from(g.getImageData(0, 0, 400, 400).data);
  }, `/api/v1/tickets/${encodeURIComponent(ticket.token)}/qr.svg`);
  const decoded = jsQR(Uint8ClampedArray.from(qr), 400, 400);
  assert.ok(decoded, 'the QR code decodes');
  assert.equal(decoded.data, `${base}/t/${ticket.token}`);
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  phone.errors = [];
  phone.on('pageerror', (e) => phone.errors.push(String(e)));
  await phone.goto(decoded.data);
  await phone.locator('#num', { hasText: 'A001' }).waitFor();
  await phone.locator('#state', { hasText: '正在办理' }).waitFor();
  await console_.locator('[data-action=finish]').click();
  await phone.locator('#state', { hasText: '已办结' }).waitFor();
  // 好差评 on the same page once the service is finished.
  await phone.locator('[data-level=satisfied]').click();
  await phone.locator('#comment').fill('办理很快');
  await phone.locator('#send').click();
  await phone.locator('#rated', { hasText: '满意' }).waitFor();
  await shot(phone, 'ticket');

  const sup = await open('/supervisor?hall=e2e');
  await signIn(sup, 'supervisor');
  await sup.locator('[data-window="1"]').waitFor();
  await shot(sup, 'supervisor');
  noErrors(sup);

  // Today's report, from the board's link (same sign-in): figures, charts,
  // tables and the CSV download.
  await sup.locator('#report-link').click();
  await sup.locator('body[data-ready="1"]').waitFor();
  await sup.locator('#summary', { hasText: '取号1' }).waitFor();
  const bars = await sup.locator('#hours-chart rect[data-hour]').evaluateAll((rs) =>
    rs.filter((r) => Number(r.getAttribute('height')) > 0).map((r) => r.dataset.series));
  assert.deepEqual(bars.sort(), ['办结', '取号'], 'one arrival and one service drawn');
  await sup.locator('#windows tr[data-key="1"]').waitFor();
  await sup.locator('#staff tr[data-key="w1"]').waitFor();
  const download = sup.waitForEvent('download');
  await sup.locator('#csv').click();
  const csv = readFileSync(await (await download).path(), 'utf8');
  assert.ok(csv.startsWith('\ufeffsection,key,name,issued'), csv.slice(0, 40));
  assert.match(csv, /\r\nhall,hall,浏览器测试大厅,1,1,1,/);
  // The day's audit log: the supervisor's own sign-in, with its address.
  const signedIn = sup.locator('#audit-log tr[data-action="signed_in"]', { hasText: 'supervisor' }).first();
  await signedIn.waitFor();
  assert.match(await signedIn.textContent(), /登录supervisor127\.0\.0\.1/);
  await shot(sup, 'report', true);

  // 预约签到 by code at the desk: an appointment booked through the API
  // (as a booking system would) becomes a ticket in the appointment lane.
  const slotStart = Date.now() + 10 * 60000;
  const booked = await apiAs('guide', '/halls/e2e/appointments',
    { code: 'YY88A7', zone: 'general', service: 'civil', slot_start: slotStart, slot_end: slotStart + 30 * 60000 });
  assert.equal(booked.status, 201, JSON.stringify(booked.body));
  await desk.locator('#checkin-code').fill('yy88a7');
  const checked = desk.waitForResponse((r) => r.url().includes('/appointments/yy88a7/check-in'));
  await desk.locator('#checkin-by-code').click();
  assert.equal((await (await checked).json()).ticket.lane.kind, 'appointment');
  await desk.locator('#issued-number', { hasText: 'A002' }).waitFor();
  // A second check-in is refused in the page's own words.
  await desk.locator('#checkin-code').fill('yy88a7');
  await desk.locator('#checkin-by-code').click();
  await desk.locator('.toast.error', { hasText: '该预约已签到' }).waitFor();

  noErrors(hall, windowScreen, led, desk, console_, phone, sup);
  await Promise.all([desk, console_, phone, sup].map((p) => p.close()));
});

/** A POST to the API as `user` of the test hall; the answer's JSON. */
async function staffApi(path, user, body) {
  const login = await fetch(`${base}/api/v1/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hall: 'e2e', user, password: PASSWORD }),
  });
  const { token } = await login.json();
  const r = await fetch(`${base}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  assert.ok(r.ok, `${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

test('the screens recover by themselves after a server restart', async () => {
  await stopServer();
  await hall.locator('#live-status.reconnecting').waitFor();
  await startServer();
  await hall.locator('#live-status.live').waitFor({ state: 'attached', timeout: 20000 });

  // A later call reaches the screens that were never reloaded.
  await staffApi('/halls/e2e/tickets', 'guide', { zone: 'general', service: 'civil' });
  const r = await staffApi('/halls/e2e/windows/1/call-next', 'w1');
  assert.equal(r.window.current, 'A002');
  await hall.locator('#latest-number', { hasText: 'A002' }).waitFor({ timeout: 20000 });
  await windowScreen.locator('#now', { hasText: 'A002' }).waitFor({ timeout: 20000 });
  await led.locator('#line', { hasText: 'A002 1号窗口' }).waitFor({ timeout: 20000 });
  noErrors(hall, windowScreen, led);
});

test('the hall display plays each call, one at a time', async () => {
  // With autoplay allowed (the documented kiosk flag), the page fetched and
  // played the announcements of the calls above.
  const fetched = () => hall.evaluate(() => performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/announcements?')).map((e) => new URL(e.name).searchParams.get('ticket')));
  // A001 was called first and is spoken first (twice, about 13 s); A002
  // waits for it to end, then follows.
  const deadline = Date.now() + 45000;
  let got = await fetched();
  while (!got.includes('A002')) {
    assert.ok(Date.now() < deadline, `announcements fetched: ${got}`);
    await new Promise((r) => setTimeout(r, 250));
    got = await fetched();
  }
  assert.deepEqual(got.filter((x, i) => got.indexOf(x) === i), ['A001', 'A002']);
  const ended = await hall.evaluate(() => document.querySelector('#sound-gate') === null);
  assert.ok(ended, 'no sound gate: the kiosk flag allows autoplay');
  noErrors(hall);
});

test('a screen that was away catches up on the calls it missed', async () => {
  await staffApi('/halls/e2e/windows/1/start', 'w1');
  await staffApi('/halls/e2e/windows/1/finish', 'w1');
  // The window screen loses its network, and with the restart its socket:
  // a call is made while it is away.
  await windowScreen.context().setOffline(true);
  await stopServer();
  await startServer();
  await staffApi('/halls/e2e/tickets', 'guide', { zone: 'general', service: 'civil' });
  const r = await staffApi('/halls/e2e/windows/1/call-next', 'w1');
  assert.equal(r.window.current, 'A003');
  // Back on the network, it resumes from its last sequence number: the
  // server answers `resumed` and the deltas it missed, which must be shown.
  const frames = [];
  windowScreen.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(String(f.payload))));
  await windowScreen.context().setOffline(false);
  await windowScreen.locator('#now', { hasText: 'A003' }).waitFor({ timeout: 20000 });
  const resumed = frames.map((f) => JSON.parse(f)).find((m) => m.type === 'resumed');
  assert.ok(resumed && resumed.seq > resumed.since, `resumed with deltas to catch up: ${frames.map((f) => f.slice(0, 50))}`);
  noErrors(windowScreen);
});

/**
 * A TCP relay to the server that the test can cut: `cut()` closes every
 * connection through it and holds new ones unanswered (as a dead network
 * does), `restore()` lets the held ones through.
 */
async function relay() {
  const open = new Set();
  const held = [];
  let down = false;
  const through = (client) => {
    const upstream = connect(port, '127.0.0.1');
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
    };
    for (const s of [client, upstream]) s.on('error', close).on('close', close);
    client.pipe(upstream).pipe(client);
    open.add(client);
  };
  const server = createServer((client) => {
    client.on('error', () => {});
    if (down) held.push(client);
    else through(client);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    cut() {
      down = true;
      for (const c of open) c.destroy();
    },
    restore() {
      down = false;
      for (const c of held.splice(0)) if (!c.destroyed) through(c);
    },
    close: () => new Promise((ok) => {
      for (const c of [...open, ...held]) c.destroy();
      server.close(ok);
    }),
  };
}

test('a display that was offline announces the calls it missed that are still current, and only those', async (t) => {
  const link = await relay();
  t.after(() => link.close());
  // Calls older than this many seconds are not spoken.
  const WITHIN = 6;
  const display = await open(`/hall?hall=away&announce_within=${WITHIN}`, { width: 1920, height: 1080, origin: link.origin });
  await signIn(display, 'display');
  // Every announcement the page plays, in order: each starts with a fetch
  // from its first byte (the rest of a long one may come as further
  // ranges). Routing turns the browser's cache off, so a call said twice
  // is fetched twice.
  const said = [];
  await display.route('**/announcements?*', (route) => {
    const q = new URL(route.request().url()).searchParams;
    if (/^(bytes=0-)?$/.test(route.request().headers().range ?? '')) said.push(`${q.get('ticket')}@${q.get('window')}`);
    route.continue();
  });
  const settled = async (want) => {
    const deadline = Date.now() + 90000;
    while (!want.every((w) => said.includes(w))
      || await display.evaluate(() => document.body.dataset.announcing) !== 'idle') {
      assert.ok(Date.now() < deadline, `announced so far: ${said}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  await display.locator('body[data-announcing="idle"]').waitFor({ state: 'attached' });

  const act = async (path, body) => {
    const r = await apiAs(body ? 'guide' : 'w', `/halls/away${path}`, body, 'away');
    assert.ok(r.status < 300, `${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const issue = () => act('/tickets', { zone: 'general', service: 'social' });
  const callAt = async (w) => (await act(`/windows/${w}/call-next`)).window.current;
  for (const w of [1, 2, 3, 4]) await act(`/windows/${w}/open`);
  for (let i = 0; i < 4; i++) await issue();

  // The display loses its network while the hall goes on.
  link.cut();
  await display.locator('#live-status.reconnecting').waitFor();
  // Still waiting at window 1, but called longer ago than the display
  // speaks by the time it is back.
  assert.equal(await callAt(1), 'A001');
  await new Promise((r) => setTimeout(r, (WITHIN + 3) * 1000));
  // Window 2's citizen came: its service started.
  assert.equal(await callAt(2), 'A002');
  await act('/windows/2/start');
  // Called, then recalled (重呼): the recall alone is due.
  assert.equal(await callAt(3), 'A003');
  await act('/windows/3/recall');
  // Called, still waiting.
  assert.equal(await callAt(4), 'A004');
  link.restore();

  // Back on the network, it catches up and says what is still due, in call
  // order, once each.
  await settled(['A003@3', 'A004@4']);
  assert.deepEqual(said, ['A003@3', 'A004@4']);
  await display.locator('#latest-number', { hasText: 'A004' }).waitFor();
  await display.locator('#recent', { hasText: 'A001' }).waitFor();

  // A display that was closed comes back with a snapshot: it says the call
  // made while it was away, and not again those it said before, still in
  // hand (its limit raised so none is too old).
  await act('/windows/1/start');
  await act('/windows/1/finish');
  await display.goto('about:blank');
  await issue();
  assert.equal(await callAt(1), 'A005');
  await display.goto(`${link.origin}/hall?hall=away&announce_within=600`);
  await settled(['A005@1']);
  assert.deepEqual(said, ['A003@3', 'A004@4', 'A005@1']);
  await display.locator('#latest-number', { hasText: 'A005' }).waitFor();

  noErrors(display);
  await display.close();
});

/** Waits until `ok()` holds, for at most `ms`. */
async function until(ok, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    assert.ok(Date.now() < deadline, what());
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('an LED strip left idle shows only its line, never the answer to its ping', async () => {
  // It pings every second here (every 15 s in a hall), and the server
  // answers each ping with a JSON pong, on an LED connection too.
  const strip = await open('/led?hall=e2e&window=1&ping_every=1', { width: 1024, height: 160 });
  const pongs = [];
  strip.on('websocket', (ws) => ws.on('framereceived', (f) => /"pong"/.test(f.payload) && pongs.push(f.payload)));
  await pair(strip, 'display');
  await strip.locator('#line', { hasText: '1号窗口' }).waitFor();
  // Every text the line takes from here on.
  await strip.evaluate(() => {
    const line = document.getElementById('line');
    window.shown = [line.textContent];
    new MutationObserver(() => window.shown.push(line.textContent))
      .observe(line, { childList: true, characterData: true, subtree: true });
  });
  const before = pongs.length;
  await until(() => pongs.length >= before + 3, 10000, () => `pongs received: ${pongs.length - before}`);
  const shown = await strip.evaluate(() => window.shown);
  assert.match(shown[0], /^(A\d{3} 1号窗口|1号窗口 (空闲|暂停服务))$/);
  assert.deepEqual(shown.filter((l) => l !== shown[0]), [], 'the line stays the window\'s line');
  noErrors(strip);
  await strip.close();
});

test('the kiosk shows no staff tools, and the guide desk asks before cancelling a ticket', async () => {
  const kiosk = await open('/desk?hall=e2e&kiosk=1', { width: 1080, height: 1920 });
  await signIn(kiosk, 'kiosk');
  await kiosk.locator('[data-zone=general]').click();
  await kiosk.locator('[data-service=social]').click();
  // A citizen takes a ticket or checks in by appointment code; nobody
  // looks up, cancels or checks in by time slot there.
  for (const id of ['#issue', '#search', '#checkin-code', '#checkin-by-code', '#settings']) {
    assert.ok(await kiosk.locator(id).isVisible(), `${id} is shown on the kiosk`);
  }
  for (const id of ['#lookup-number', '#lookup', '#cancel', '#checkin-start', '#checkin-end', '#checkin',
    '#category', '#id-number', '#signout', '#lang']) {
    assert.equal(await kiosk.locator(id).isVisible(), false, `${id} is hidden on the kiosk`);
  }
  await shot(kiosk, 'kiosk');
  noErrors(kiosk);
  await kiosk.close();

  const desk = await open('/desk?hall=e2e');
  await signIn(desk, 'guide');
  const { ticket } = await staffApi('/halls/e2e/tickets', 'guide', { zone: 'general', service: 'civil' });
  const cancels = [];
  desk.on('request', (r) => r.url().endsWith('/cancel') && cancels.push(r.url()));
  const lookUp = async () => {
    const looked = desk.waitForResponse((r) => r.url().endsWith(`/tickets/${ticket.number}`));
    await desk.locator('#lookup-number').fill(ticket.number);
    await desk.locator('#lookup').click();
    await looked;
  };
  await lookUp();
  await desk.locator('#lookup-result', { hasText: `${ticket.number} · 等候中` }).waitFor();
  // The answer to the next question; what was asked.
  const asked = [];
  let answer;
  desk.on('dialog', (d) => {
    asked.push(`${d.type()}: ${d.message()}`);
    return answer ? d.accept() : d.dismiss();
  });
  // Declined: the ticket keeps its place.
  answer = false;
  await desk.locator('#cancel').click();
  await lookUp();
  assert.equal(asked.length, 1, `asked: ${asked}`);
  assert.match(asked[0], new RegExp(`^confirm: .*${ticket.number}`));
  assert.deepEqual(cancels, [], 'nothing cancelled when declined');
  await desk.locator('#lookup-result', { hasText: `${ticket.number} · 等候中` }).waitFor();
  // Confirmed: cancelled.
  answer = true;
  await desk.locator('#cancel').click();
  await desk.locator('#lookup-result', { hasText: `${ticket.number} · 已作废` }).waitFor();
  assert.equal(asked.length, 2, `asked: ${asked}`);
  assert.equal(cancels.length, 1);
  noErrors(desk);
  await desk.close();
});

test('a slip printed to PDF is 80 mm wide, on one page', async () => {
  const desk = await open('/desk?hall=e2e');
  await signIn(desk, 'guide');
  await desk.locator('[data-zone=general]').click();
  await desk.locator('[data-service=social]').click();
  await desk.locator('#issue').click();
  await desk.locator('#result:not([hidden])').waitFor();
  await desk.locator('#slip-qr').evaluate((img) => img.decode());
  // The page size the stylesheet asks for, as a kiosk prints it.
  const pdf = (await desk.pdf({ preferCSSPageSize: true })).toString('latin1');
  const pages = [...pdf.matchAll(/\/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]/g)]
    .map((m) => [Number(m[3]) - Number(m[1]), Number(m[4]) - Number(m[2])]);
  assert.equal(pages.length, 1, `one page: ${JSON.stringify(pages)}`);
  // 80 mm = 226.77 pt (Chromium rounds to a whole CSS pixel).
  assert.ok(Math.abs(pages[0][0] - 80 / 25.4 * 72) < 1, `80 mm wide: ${pages[0][0]} pt`);
  noErrors(desk);
  await desk.close();
});

/** GETs from the API as `user` of the test hall. */
async function getAs(user, path, hall = 'e2e') {
  const res = await fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${await tokenOf(user, hall)}` } });
  return res.json();
}

/** Tickets waiting in a zone of the test hall, as the server counts them. */
async function waitingIn(zone) {
  return (await getAs('guide', `/halls/e2e/zones/${zone}`)).summary.waiting;
}

test('a double-click issues one ticket, a lost answer is retried with its key, and 重呼 double-clicked recalls once', async () => {
  const desk = await open('/desk?hall=e2e');
  await signIn(desk, 'guide');
  await desk.locator('[data-zone=police]').click();
  await desk.locator('[data-service=hukou]').click();
  const posts = [];
  desk.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/halls/e2e/tickets') && posts.push(r.headers()['idempotency-key']));

  const before = await waitingIn('police');
  const answered = desk.waitForResponse((r) => r.url().endsWith('/halls/e2e/tickets'));
  await desk.locator('#issue').dblclick();
  await answered;
  await desk.locator('#issue:not([disabled])').waitFor();
  assert.equal(posts.length, 1, 'one request for a double-click');
  assert.match(posts[0], /^[0-9a-f]{32}$/, 'sent with an idempotency key');
  assert.equal(await waitingIn('police'), before + 1, 'one ticket issued');
  const first = await desk.locator('#issued-number').textContent();

  // The answer is lost on its way back (the server did issue the ticket):
  // the page sends the request again with the same key and shows the
  // ticket the server kept for it, without issuing another.
  let kept;
  await desk.route('**/api/v1/halls/e2e/tickets', async (route) => {
    if (kept) return route.continue();
    kept = await (await route.fetch()).json();
    await route.abort('connectionreset');
  });
  posts.length = 0;
  const retried = desk.waitForResponse((r) => r.url().endsWith('/halls/e2e/tickets'));
  await desk.locator('#issue').click();
  const replay = await retried;
  assert.equal(replay.headers()['idempotent-replayed'], 'true');
  await desk.locator('#issued-number', { hasText: kept.ticket.number }).waitFor();
  assert.notEqual(kept.ticket.number, first);
  assert.equal(posts.length, 2, 'sent twice');
  assert.equal(posts[1], posts[0], 'with the same key');
  assert.equal(await waitingIn('police'), before + 2, 'one more ticket, not two');
  await desk.unroute('**/api/v1/halls/e2e/tickets');
  noErrors(desk);
  await desk.close();

  // 重呼 double-clicked at window 2's console: one recall.
  const console_ = await open('/console?hall=e2e');
  await signIn(console_, 'w2');
  // Once the console knows the window's state (closed, opened paused, or
  // already serving), take it to 叫号 by what it offers: no fixed waits.
  const ready = (...actions) => console_.locator(actions.map((a) => `[data-action=${a}]:not([disabled])`).join(', ')).first().waitFor();
  await ready('open', 'resume', 'call-next');
  const open_ = console_.locator('[data-action=open]');
  if (await open_.isEnabled()) await open_.click();
  await ready('resume', 'call-next');
  const resume = console_.locator('[data-action=resume]');
  if (await resume.isEnabled()) await resume.click();
  await ready('call-next');
  await console_.locator('[data-action=call-next]').click();
  await console_.locator('#current', { hasText: /^C\d{3}$/ }).waitFor();
  const recalls = [];
  console_.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/recall') && recalls.push(r.url()));
  await console_.locator('[data-action=recall]').dblclick();
  await console_.locator('[data-action=recall]:not([disabled])').waitFor();
  assert.equal(recalls.length, 1, 'one recall for a double-click');
  const number = await console_.locator('#current').textContent();
  const t = await getAs('w2', `/halls/e2e/tickets/${number}`);
  assert.equal(t.history.filter((h) => h.what === 'recalled').length, 1, JSON.stringify(t.history));
  // Leave window 2 with nothing in hand.
  await console_.locator('[data-action=start]').click();
  await console_.locator('#current-detail', { hasText: '正在办理' }).waitFor();
  await console_.locator('[data-action=finish]').click();
  await console_.locator('#current', { hasText: '—' }).waitFor();
  noErrors(console_);
  await console_.close();
});

/** Whether `locator`'s box lies wholly inside the page's viewport. */
async function inView(page, locator) {
  const box = await locator.boundingBox();
  const { width, height } = page.viewportSize();
  return !!box && box.x >= 0 && box.y >= 0 && box.x + box.width <= width + 0.5 && box.y + box.height <= height + 0.5;
}

test('an LED strip is paired by the code it shows, entered on the supervisor board, and signed out by an administrator', async () => {
  const strip = await open('/led?hall=e2e&window=2', { width: 1280, height: 160 });
  // Too small for a form: it shows a pairing code, whole, at once.
  const code = strip.locator('#pair-code');
  await strip.locator('#pair-code', { hasText: /^\d{3} \d{3}$/ }).waitFor();
  assert.ok(await inView(strip, code), 'the code fits the strip');
  assert.equal(await strip.locator('form.login').count(), 0, 'no form on a strip');
  await shot(strip, 'led-pairing');
  const digits = (await code.textContent()).replace(/\D/g, '');

  const board = await open('/supervisor?hall=e2e');
  await signIn(board, 'admin');
  await board.locator('#pair-account option[value=display]').waitFor({ state: 'attached' });
  await board.locator('#pair-code-input').fill(digits);
  await board.locator('#pair-account').selectOption('display');
  await board.locator('#pair-name').fill('2号窗口 LED');
  await board.locator('#pair').click();
  await board.locator('#devices tr', { hasText: '2号窗口 LED' }).waitFor();
  // The strip signs itself in and shows its window's line.
  await strip.locator('#line', { hasText: '2号窗口' }).waitFor();
  const stored = await strip.evaluate(() => JSON.parse(localStorage.getItem('hallcall.session.e2e')));
  assert.equal(stored.role, 'display');
  assert.equal(stored.expires_at, undefined, 'a device stays signed in');
  await shot(board, 'supervisor-devices');

  // Signed out on the board: the strip shows a new pairing code by itself.
  board.on('dialog', (d) => d.accept());
  await board.locator('#devices tr', { hasText: '2号窗口 LED' }).locator('button').click();
  await board.locator('#devices tr', { hasText: '2号窗口 LED' }).waitFor({ state: 'detached' });
  await strip.locator('#pair-code', { hasText: /^\d{3} \d{3}$/ }).waitFor();
  assert.notEqual((await code.textContent()).replace(/\D/g, ''), digits, 'a new code');
  noErrors(strip, board);
  await strip.close();
  await board.close();
});

test('a kiosk stays signed in as a kiosk, and its settings open with its PIN only', async () => {
  const kiosk = await open('/desk?hall=e2e&kiosk=1', { width: 1080, height: 1920 });
  await signIn(kiosk, 'kiosk');
  const stored = await kiosk.evaluate(() => JSON.parse(localStorage.getItem('hallcall.session.e2e')));
  assert.equal(stored.role, 'kiosk');
  assert.equal(stored.expires_at, undefined, 'no sign-in to expire overnight');
  // A citizen takes a ticket.
  await kiosk.locator('[data-zone=general]').click();
  await kiosk.locator('[data-service=social]').click();
  const issued = kiosk.waitForResponse((r) => r.url().endsWith('/halls/e2e/tickets'));
  await kiosk.locator('#issue').click();
  assert.equal((await issued).status(), 201);
  await kiosk.locator('#result:not([hidden])').waitFor();

  // Settings: a wrong PIN is refused in the page's words; the right one
  // offers to sign the kiosk out.
  const answers = ['1357', '2468'];
  const asked = [];
  kiosk.on('dialog', (d) => {
    asked.push(d.type());
    if (d.type() === 'prompt') return d.accept(answers.shift());
    return d.dismiss();
  });
  await kiosk.locator('#settings').click();
  await kiosk.locator('.toast.error', { hasText: '管理密码错误' }).waitFor();
  await kiosk.locator('#settings:not([disabled])').waitFor();
  await kiosk.locator('#settings').click();
  await kiosk.waitForFunction(() => true);
  for (let i = 0; i < 50 && asked.length < 3; i++) await kiosk.waitForTimeout(100);
  assert.deepEqual(asked, ['prompt', 'prompt', 'confirm']);
  noErrors(kiosk);
  await kiosk.close();
});

test('a 绿色通道 ticket is marked at the desk and on its slip, which says 您 and leaves no character alone on a line', async () => {
  const desk = await open('/desk?hall=e2e');
  await signIn(desk, 'guide');
  await desk.locator('[data-zone=general]').click();
  await desk.locator('[data-service=civil]').click();
  await desk.locator('#category').selectOption('elderly');
  await desk.locator('#issue').click();
  await desk.locator('#issued-lane', { hasText: '绿色通道' }).waitFor();
  await desk.locator('#slip-qr').evaluate((img) => img.decode());
  await desk.emulateMedia({ media: 'print' });
  assert.equal(await desk.locator('#slip-lane').textContent(), '绿色通道 · 70岁以上老年人');
  assert.match(await desk.locator('#slip-ahead').textContent(), /^您前面还有 \d+ 人在等待$/);
  // Characters per printed line, for every line of the slip.
  const lines = await desk.evaluate(() => {
    const out = [];
    const walker = document.createTreeWalker(document.getElementById('slip'), NodeFilter.SHOW_TEXT);
    const perTop = new Map();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      for (let i = 0; i < n.length; i++) {
        if (!n.data[i].trim()) continue;
        const r = document.createRange();
        r.setStart(n, i);
        r.setEnd(n, i + 1);
        const box = r.getBoundingClientRect();
        if (!box.height) continue;
        const top = Math.round(box.top);
        perTop.set(top, (perTop.get(top) ?? '') + n.data[i]);
      }
    }
    for (const text of perTop.values()) out.push(text);
    return out;
  });
  const alone = lines.filter((l) => [...l].length === 1);
  assert.deepEqual(alone, [], `lines: ${JSON.stringify(lines)}`);
  await desk.emulateMedia({ media: 'screen' });
  noErrors(desk);
  await desk.close();
});

test('waits are shown as a range from the forecast, and as 暂无窗口办理 where no open window serves', async () => {
  const desk = await open('/desk?hall=est');
  await signIn(desk, 'guide');
  const screen = await open('/hall?hall=est', { width: 1920, height: 1080 });
  await signIn(screen, 'display');
  const deskWait = (zone) => desk.locator(`[data-zone=${zone}] [data-wait]`);
  // Nobody at either window yet: no window for either zone.
  await deskWait('general').filter({ hasText: /^暂无窗口办理$/ }).waitFor();
  await deskWait('police').filter({ hasText: /^暂无窗口办理$/ }).waitFor();
  const opened = await apiAs('w1', '/halls/est/windows/1/open', undefined, 'est');
  assert.equal(opened.status, 200, JSON.stringify(opened.body));
  await deskWait('general').filter({ hasText: /^预计等候 \d+(–\d+)? 分钟$/ }).waitFor();
  // Two tickets of the general zone: the second waits for the first's
  // service, a range of minutes, on the screen and on the slip.
  for (const n of ['A001', 'A002']) {
    await desk.locator('[data-zone=general]').click();
    await desk.locator('[data-service=social]').click();
    await desk.locator('#issue').click();
    await desk.locator('#issued-number', { hasText: n }).waitFor();
  }
  const range = /^预计等候 (\d+)–(\d+) 分钟$/;
  const [, lo, hi] = (await desk.locator('#issued-wait').textContent()).match(range);
  assert.ok(Number(lo) < Number(hi) && Number(hi) > 0, `${lo}–${hi}`);
  assert.equal(await desk.locator('#slip-wait').textContent(), `预计等候 ${lo}–${hi} 分钟`);
  // A police ticket: windows 2 and 3, which serve it, are not open.
  await desk.locator('[data-zone=police]').click();
  await desk.locator('[data-service=hukou]').click();
  await desk.locator('#issue').click();
  await desk.locator('#issued-number', { hasText: 'C001' }).waitFor();
  assert.equal(await desk.locator('#issued-wait').textContent(), '暂无窗口办理');
  assert.equal(await desk.locator('#slip-wait').textContent(), '暂无窗口办理，请留意大屏');
  // The citizen's page of that ticket says so too.
  const token = decodeURIComponent((await desk.locator('#slip-qr').getAttribute('src')).split('/')[4]);
  const own = await open(`/t/${encodeURIComponent(token)}`, { width: 390, height: 844 });
  await own.locator('#detail', { hasText: '暂无窗口办理' }).waitFor();
  await shot(own, 'ticket-no-window');
  // The hall display: a range for the general zone, no number for police.
  await screen.locator('[data-zone=general] .est', { hasText: /^约\d+–\d+分钟$/ }).waitFor();
  await screen.locator('[data-zone=police] .est', { hasText: '暂无窗口办理' }).waitFor();
  await shot(screen, 'hall-estimates');
  for (const p of [desk, screen, own]) {
    noErrors(p);
    await p.close();
  }
});

test('the board proposes a window for a zone past its wait target, and one click gives it the zone first', async () => {
  // After the test above: A001, A002 and C001 wait; window 1 is open.
  // Windows 2 (police, then general) and 3 (police) open; one more police
  // ticket and five more general: windows 2 and 3 take the police ones,
  // and a general ticket taken now waits past 30 minutes until window 2
  // helps; with window 2 taking general first, it waits less.
  for (const n of [2, 3]) {
    const r = await apiAs(`w${n}`, `/halls/est/windows/${n}/open`, undefined, 'est');
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const take = async (zone, service) => {
    const r = await apiAs('guide', '/halls/est/tickets', { zone, service }, 'est');
    assert.equal(r.status, 201, JSON.stringify(r.body));
  };
  await take('police', 'hukou');
  for (let i = 0; i < 5; i++) await take('general', 'social');
  const board = await open('/supervisor?hall=est', { width: 1920, height: 1080 });
  await signIn(board, 'supervisor');
  const advice = board.locator('[data-advice="serve_first/2/general"]');
  await advice.waitFor();
  assert.match(await advice.textContent(), /^综合服务预计等候 \d+ 分钟：让 2 号窗口优先办理，约 \d+ 分钟/);
  await shot(board, 'supervisor-advice');
  await advice.locator('button').click();
  await board.locator('.toast', { hasText: '已调整窗口' }).waitFor();
  await advice.waitFor({ state: 'detached' });
  const windows = await fetch(`${base}/api/v1/halls/est/windows`, { headers: { authorization: `Bearer ${await tokenOf('supervisor', 'est')}` } });
  const w2 = (await windows.json()).windows.find((w) => w.number === 2);
  assert.equal(w2.first_zone, 'general');
  noErrors(board);
  await board.close();
});

test('a refusal for a closed zone says when it opens', async () => {
  const desk = await open('/desk?hall=e2e');
  await signIn(desk, 'guide');
  await desk.locator('[data-zone=early]').click();
  await desk.locator('[data-service=early]').click();
  await desk.locator('#issue').click();
  await desk.locator('.toast.error', { hasText: /^该区域当前不取号，\d{4}-\d{2}-\d{2} 03:30 开始取号$/ }).waitFor();
  noErrors(desk);
  await desk.close();
});

test('the evaluator shows who serves and records exactly one rating per ticket', async () => {
  const ev = await open('/evaluator?hall=e2e', { width: 1280, height: 800 });
  await signIn(ev, 'ev2');
  const act = async (a, body) => {
    const r = await apiAs('w2', `/halls/e2e/windows/2/${a}`, body);
    return r;
  };
  await act('open');
  await act('resume');
  const issued = await apiAs('guide', '/halls/e2e/tickets', { zone: 'police', service: 'hukou' });
  const number = issued.body.ticket.number;
  for (const [a, body] of [['call', { ticket: number }], ['start']]) {
    const r = await act(a, body);
    assert.equal(r.status, 200, `${a}: ${JSON.stringify(r.body)}`);
  }
  await ev.locator('#staff-name', { hasText: '王芳' }).waitFor();
  await ev.locator('#staff-no', { hasText: '工号 0212' }).waitFor();
  await ev.locator('#serving', { hasText: number }).waitFor();
  await shot(ev, 'evaluator-card');

  const ratings = [];
  ev.on('request', (r) => r.method() === 'POST' && r.url().endsWith('/windows/2/rating') && ratings.push(r.postDataJSON()));
  assert.equal((await act('finish')).status, 200);
  await ev.locator('#rate-panel', { hasText: number }).waitFor();
  await shot(ev, 'evaluator-rate');
  // A double tap on 满意: one rating.
  await ev.locator('[data-level=satisfied]').dblclick();
  await ev.locator('#thanks').waitFor();
  assert.deepEqual(ratings, [{ ticket: number, level: 'satisfied' }]);
  const t = await getAs('supervisor', `/halls/e2e/tickets/${number}`);
  assert.equal(t.rating.level, 'satisfied');
  // Back to the card by itself.
  await ev.locator('#staff-name', { hasText: '王芳' }).waitFor({ timeout: 15000 });

  // A bad rating asks why, and keeps the reasons with it.
  const second = (await apiAs('guide', '/halls/e2e/tickets', { zone: 'police', service: 'hukou' })).body.ticket.number;
  for (const [a, body] of [['call', { ticket: second }], ['start'], ['finish']]) await act(a, body);
  await ev.locator('#rate-panel', { hasText: second }).waitFor();
  await ev.locator('[data-level=very_dissatisfied]').click();
  await ev.locator('[data-reason=evReasonWait]').check();
  await shot(ev, 'evaluator-reasons');
  await ev.locator('#send-rating').click();
  await ev.locator('#thanks').waitFor();
  const bad = await getAs('supervisor', `/halls/e2e/tickets/${second}`);
  assert.deepEqual([bad.rating.level, bad.rating.comment], ['very_dissatisfied', '等候时间长']);
  assert.equal(ratings.length, 2);
  noErrors(ev);
  await ev.close();
});

test('the report counts 过号 (every unanswered call) apart from 未到 (skipped for good)', async () => {
  const act = (a, body) => apiAs('w2', `/halls/e2e/windows/2/${a}`, body);
  await act('open');
  await act('resume');
  const number = (await apiAs('guide', '/halls/e2e/tickets', { zone: 'police', service: 'hukou' })).body.ticket.number;
  // Called and not there, until the hall gives up on it.
  let skips = 0;
  for (; skips < 5; skips++) {
    const called = await act('call', { ticket: number });
    if (called.status !== 200) break;
    assert.equal((await act('skip')).status, 200);
  }
  const t = await getAs('supervisor', `/halls/e2e/tickets/${number}`);
  assert.equal(t.state, 'no_show', JSON.stringify(t));
  assert.ok(skips >= 2, `过号 ${skips} times`);

  const report = await open('/report?hall=e2e');
  await signIn(report, 'supervisor');
  await report.locator('body[data-ready="1"]').waitFor();
  const figures = await report.locator('#summary .figure').evaluateAll((fs) =>
    Object.fromEntries(fs.map((f) => [f.querySelector('span').textContent, f.querySelector('strong').textContent])));
  const r = await getAs('supervisor', '/halls/e2e/report');
  assert.equal(figures['过号'], String(r.total.skips), JSON.stringify(figures));
  assert.equal(figures['未到（弃号）'], String(r.total.no_shows), JSON.stringify(figures));
  assert.ok(r.total.skips >= r.total.no_shows + skips - 1, JSON.stringify(r.total));
  noErrors(report);
  await report.close();
});
