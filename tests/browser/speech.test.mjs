// The hall display speaking with the device's own voice (Web Speech API),
// in a real headless Chromium against the real binary: where the browser
// has voices (Debian's speech-dispatcher with espeak-ng, its sound sent to
// libao's null driver) each call is said in them, one at a time in call
// order, Mandarin then English; where it has none, the clips say it.
//
// Alone: (cd tests/browser && HALLCALL_BIN=… node --test speech.test.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { HASH, zoneNearNoon, Hallcall, signIn, freePort, noErrors } from './harness.mjs';

let hallcall;
const browsers = [];

before(async () => {
  hallcall = new Hallcall(`
[[hall]]
id = "speak"
name = "语音测试大厅"
time_zone = "${zoneNearNoon()}"
window = [{ number = 1, name = "综合", serves = ["general"] }, { number = 21, name = "综合", serves = ["general"] }]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w", role = "window", password = "${HASH}", windows = [1, 21] },
  { user = "display", role = "display", password = "${HASH}" },
]
[hall.voice]
languages = ["zh", "en"]
repeat = 1
play = ["speech"]
[[hall.zone]]
id = "general"
name = "综合服务"
prefix = "A"
service = [{ id = "social", name = "社保医保" }]
`, 'speech');
  await hallcall.start();
});

after(async () => {
  for (const b of browsers) await b.close();
  await hallcall?.stop();
});

/** Chromium as a kiosk runs it; `voices`: with speech-dispatcher, whose
 * sound goes nowhere (a home of its own holds that setting). */
async function kiosk(voices) {
  const env = { ...process.env };
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--autoplay-policy=no-user-gesture-required'];
  if (voices) {
    const home = mkdtempSync(join(tmpdir(), 'hallcall-speechd-'));
    mkdirSync(join(home, '.config/speech-dispatcher'), { recursive: true });
    mkdirSync(join(home, 'run'), { mode: 0o700 });
    writeFileSync(join(home, '.config/speech-dispatcher/speechd.conf'),
      'AudioOutputMethod "libao"\nAddModule "espeak-ng" "sd_espeak-ng" "espeak-ng.conf"\nDefaultModule espeak-ng\n');
    writeFileSync(join(home, '.libao'), 'default_driver=null\n');
    Object.assign(env, { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: join(home, 'run') });
    args.push('--enable-speech-dispatcher');
  }
  const b = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', env, args });
  browsers.push(b);
  const page = await b.newPage({ viewport: { width: 1920, height: 1080 } });
  page.errors = [];
  page.said = [];
  page.fetched = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection|Failed to load resource/.test(m.text())) page.errors.push(m.text());
    const s = /^said in the device voice \(.*?\): (.*)$/.exec(m.text());
    if (s) page.said.push(s[1]);
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.endsWith('/announcements')) page.fetched.push(`wav ${u.searchParams.get('ticket')}@${u.searchParams.get('window')}`);
    if (u.pathname.endsWith('/announcements/text')) page.fetched.push(`text ${u.searchParams.get('ticket')}@${u.searchParams.get('window')}`);
  });
  await page.goto(`${hallcall.base}/hall?hall=speak`);
  await signIn(page, 'display');
  await page.locator('body[data-announcing="idle"]').waitFor({ state: 'attached' });
  return page;
}

async function api(user, path, body) {
  const r = await fetch(`${hallcall.base}/api/v1/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hall: 'speak', user, password: 'hallcall-demo' }),
  });
  const { token } = await r.json();
  const res = await fetch(`${hallcall.base}/api/v1/halls/speak${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  assert.ok(res.status < 300, `${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function idleAfter(page, want) {
  const deadline = Date.now() + 60000;
  while (page.fetched.length < want.length
    || await page.evaluate(() => document.body.dataset.announcing) !== 'idle') {
    assert.ok(Date.now() < deadline, `so far: ${page.fetched}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a display with a voice of its own says each call in it, in order; one without plays the clips', async () => {
  const withVoice = await kiosk(true);
  const without = await kiosk(false);
  for (const w of [1, 21]) await api('w', `/windows/${w}/open`);
  await api('guide', '/tickets', { zone: 'general', service: 'social' });
  await api('guide', '/tickets', { zone: 'general', service: 'social' });
  assert.equal((await api('w', '/windows/1/call-next')).window.current, 'A001');
  assert.equal((await api('w', '/windows/21/call-next')).window.current, 'A002');

  await idleAfter(withVoice, ['A001', 'A002']);
  assert.deepEqual(withVoice.fetched, ['text A001@1', 'text A002@21'], 'the text, never the clips');
  assert.deepEqual(withVoice.said, [
    '请 A 零零一号到一号窗口办理', 'ticket A zero zero one please go to window one',
    '请 A 零零二号到二十一号窗口办理', 'ticket A zero zero two please go to window twenty-one',
  ]);
  assert.equal(await withVoice.evaluate(() => document.body.dataset.voice), 'device');

  // No voices (speech-dispatcher off): the clips, each call once, in order.
  await idleAfter(without, ['A001', 'A002']);
  assert.deepEqual(without.fetched.filter((f) => f.startsWith('wav')), ['wav A001@1', 'wav A002@21']);
  assert.deepEqual(without.said, []);
  assert.equal(await without.evaluate(() => document.body.dataset.voice), 'clips');
  noErrors(withVoice, without);
});
