// Notices, printers and the outbox as their users see them, in a real
// headless Chromium against the real binary: the guide desk asks for a
// citizen's consent and number (the hall's own notice gateway, a local
// receiver that checks each signature, gets the notice); a desk's printer
// that cannot be reached is said so and printed on again once it is back;
// the supervisor board shows a webhook that refuses, the messages set
// aside, and sends them again.
//
// Alone: (cd tests/browser && HALLCALL_BIN=… node --test outbox.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createTcp } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHOTS, HASH, zoneNearNoon, Hallcall, launchChromium, signIn, freePort, noErrors } from './harness.mjs';

const SECRET = 'whsec_dGVzdCByZWNlaXZlciBzZWNyZXQga2V5IQ==';
const KEY = Buffer.from(SECRET.slice(6), 'base64');
const PHONE = '13800138000';

/** A receiver checking Standard Webhooks signatures; `answer` is the
 * status it gives (0: take the message). */
function receiver() {
  const r = { taken: [], forged: 0, answer: 0 };
  r.server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (r.answer) {
        res.writeHead(r.answer).end('refused by the test');
        return;
      }
      const id = req.headers['webhook-id'];
      const ts = req.headers['webhook-timestamp'];
      const want = Buffer.from(`v1,${createHmac('sha256', KEY).update(`${id}.${ts}.`).update(body).digest('base64')}`);
      const ok = String(req.headers['webhook-signature']).split(' ')
        .some((s) => Buffer.from(s).length === want.length && timingSafeEqual(Buffer.from(s), want));
      if (!ok || Math.abs(Date.now() / 1000 - Number(ts)) > 300) {
        r.forged += 1;
        res.writeHead(401).end();
        return;
      }
      r.taken.push({ path: req.url, id, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  return r;
}

const gateway = receiver();
const hook = receiver();
let printerPort;
const printed = [];

/** A network printer: answers DLE EOT (online, paper in) and keeps what it
 * is sent. */
function printer() {
  return createTcp((s) => {
    const chunks = [];
    s.on('data', (d) => {
      for (let i = 0; i + 2 < d.length; i += 1) {
        if (d[i] === 0x10 && d[i + 1] === 0x04) s.write(Buffer.from([d[i + 2] === 4 ? 0x12 : 0x16]));
      }
      chunks.push(d);
    });
    s.on('end', () => printed.push(Buffer.concat(chunks)));
  });
}

let hallcall;
let browser;

before(async () => {
  const listen = (srv) => new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok(srv.address().port)));
  const gatewayPort = await listen(gateway.server);
  const hookPort = await listen(hook.server);
  printerPort = await freePort();
  hallcall = new Hallcall('', 'outbox');
  const dir = hallcall.dir;
  writeFileSync(join(dir, 'secret'), SECRET);
  writeFileSync(join(dir, 'notice.key'), '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
  writeFileSync(hallcall.configPath, `
[[hall]]
id = "out"
name = "推送测试大厅"
time_zone = "${zoneNearNoon()}"
window = [{ number = 1, name = "综合", serves = ["general"] }]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "supervisor", role = "supervisor", password = "${HASH}" },
]
[[hall.zone]]
id = "general"
name = "综合服务"
prefix = "A"
service = [{ id = "social", name = "社保医保" }]
[hall.notices]
send = ["issued", "near", "called"]
[hall.notices.webhook]
url = "http://127.0.0.1:${gatewayPort}/notify"
secret_file = "${join(dir, 'secret')}"
[[hall.webhook]]
name = "erp"
url = "http://127.0.0.1:${hookPort}/erp"
secret_file = "${join(dir, 'secret')}"
events = ["TicketIssued"]
[[hall.printer]]
name = "desk-1"
address = "127.0.0.1:${printerPort}"
accounts = ["guide"]
`);
  hallcall.args = ['--notice-key-file', join(dir, 'notice.key')];
  hook.answer = 400;
  await hallcall.start();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await hallcall?.stop();
  gateway.server.close();
  hook.server.close();
});

async function open(path, { width = 1366, height = 768 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) {
      page.errors.push(m.text());
    }
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${hallcall.base}${path}`);
  return page;
}

async function until(what, pred, ms = 15000) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    assert.ok(Date.now() < deadline, `waited for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the desk takes a number with consent, and prints again once its printer is back', async () => {
  const desk = await open('/desk?hall=out');
  await signIn(desk, 'guide');
  await desk.locator('[data-zone="general"]').click();
  await desk.locator('[data-service="social"]').click();
  // Offered, with what the number is kept for.
  await desk.locator('#notify').waitFor();
  await desk.locator('#notify-on').check();
  await desk.locator('#notify-form .small', { hasText: '今天结束即删除' }).waitFor();
  await desk.locator('#notify-phone').fill('12345');
  await desk.locator('#issue').click();
  await desk.locator('.toast', { hasText: '手机号不对' }).waitFor();
  await desk.locator('#notify-phone').fill('138 0013 8000');
  await desk.screenshot({ path: join(SHOTS, 'desk-notify-1366x768.png') });
  await desk.locator('#issue').click();
  await desk.locator('#issued-number', { hasText: 'A001' }).waitFor();
  // The printer is not there yet: said so, with a way to print again.
  await desk.locator('#printed.bad [role=alert]', { hasText: '连不上打印机 desk-1' }).waitFor();
  await desk.screenshot({ path: join(SHOTS, 'desk-printer-down-1366x768.png') });
  assert.equal(await desk.locator('#notify-on').isChecked(), false, 'the next citizen starts afresh');
  // The citizen's notice reaches the hall's gateway, signed, with the number.
  await until('the issued notice', () => gateway.taken.length >= 1);
  assert.equal(gateway.forged, 0);
  assert.equal(gateway.taken[0].body.notice, 'issued');
  assert.equal(gateway.taken[0].body.phone, PHONE);
  assert.equal(gateway.taken[0].body.values.number, 'A001');

  const tcp = printer();
  await new Promise((ok) => tcp.listen(printerPort, '127.0.0.1', ok));
  await desk.locator('#reprint').click();
  await desk.locator('#printed.ok', { hasText: '已在打印机 desk-1 打印' }).waitFor();
  await until('the slip', () => printed.length >= 1);
  const slip = printed[0];
  assert.ok(slip.includes(Buffer.from('A001')), 'the number is on the slip');
  assert.deepEqual([...slip.subarray(slip.length - 4)], [0x1d, 0x56, 66, 3], 'then cut');
  tcp.close();
  noErrors(desk);
  await desk.close();
});

test('the supervisor board shows a refusing webhook, its messages set aside, and sends them again', async () => {
  const board = await open('/supervisor?hall=out', { width: 1920, height: 1080 });
  await signIn(board, 'supervisor');
  const card = board.locator('#outbox-card');
  // Refused with 400: set aside at once. The card reloads every 15 s, the
  // page is reloaded here rather than waited on.
  for (let i = 0; i < 40; i += 1) {
    if (await board.locator('#outbox-aside-list li').count()) break;
    await new Promise((r) => setTimeout(r, 300));
    await board.reload();
  }
  await card.waitFor({ state: 'visible' });
  await board.locator('#outbox-aside-list li', { hasText: '接口推送 erp · TicketIssued' }).first().waitFor();
  await board.locator('#outbox-receivers li.error', { hasText: '400' }).first().waitFor();
  await card.screenshot({ path: join(SHOTS, 'supervisor-outbox.png') });
  hook.answer = 0;
  await board.locator('#outbox-resend-all').click();
  await board.locator('.toast', { hasText: '已重新排队' }).waitFor();
  await until('the message sent again', () => hook.taken.length >= 1);
  assert.equal(hook.forged, 0);
  assert.equal(hook.taken[0].body.type, 'TicketIssued');
  await board.locator('#outbox-aside').waitFor({ state: 'hidden', timeout: 20000 });
  noErrors(board);
  await board.close();
});
