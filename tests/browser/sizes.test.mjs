// Each user's page at the sizes it is used at, walked through as its user
// would, in a real headless Chromium against the real hallcall binary:
//
// - the guide desk (引导台) on a staff PC, 1366×768, 1920×1080, 1280×1024:
//   a zone and a service picked, a normal ticket and a 绿色通道 ticket
//   issued, the number shown and the slip as it prints;
// - the self-service kiosk, portrait 1080×1920, landscape 1920×1080 and
//   1280×1024: a ticket taken and an appointment checked in by its code,
//   every control a finger's size (44 px high at least) and on screen;
// - the window's evaluator (评价器) on a tablet, 1280×800, portrait
//   800×1280 and 1024×600: who serves, the ticket served, the five
//   好差评 buttons without scrolling, 不满意 with its reason, the thanks,
//   and back to who serves;
// - the citizen's ticket page on phones and a tablet, 360×740, 390×844,
//   768×1024: the number and the people ahead, then the window to go
//   to, then the rating (好差评) once finished.
//
// At every step it measures the page: the step's controls lie inside the
// viewport and inside every box that clips them; nothing scrolls
// sideways; no text in the page's areas is cut by a box that hides what
// overflows (an ellipsis included) or runs off the side; no line holds
// one character alone; no console error. A screenshot of each page at
// each size goes to SHOTS as `<page>-<w>x<h>.png`; those of the other
// steps to target/screenshots/steps/.
//
// Run with the other browser tests: (cd tests/browser && npm test), with
// HALLCALL_BIN pointing at a built hallcall (default target/debug). A debug
// build serves the pages from HALLCALL_PAGES_DIR when it is set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, SHOTS, HASH, PASSWORD, zoneNearNoon, Hallcall, launchChromium, signIn, noErrors } from './harness.mjs';

// The kiosk's settings PIN, 2468.
const PIN_HASH = '$argon2id$v=19$m=19456,t=2,p=1$E1Y6rtHExXEAKsK4u5TT4A$t6F4/JxplpahGoptl5E9bIcPHEHpfsLG31MjsxGK6WE';
const HALL = 'sizes';
const STEPS = join(ROOT, 'target/screenshots/steps');

// Names as long as real halls give them.
const CONFIG = `
[[hall]]
id = "${HALL}"
name = "亳州市谯城区政务服务中心"
name_en = "Qiaocheng District Government Service Centre"
time_zone = "${zoneNearNoon()}"
window = [
  { number = 1, name = "无差别综合受理", serves = ["general"] },
  { number = 2, name = "不动产登记综合受理", serves = ["estate"] },
  { number = 3, name = "部门专窗", serves = ["police", "tax", "fund", "business"] },
]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w1", role = "window", windows = [1], password = "${HASH}", name = "欧阳明辉", staff_number = "0307" },
  { user = "w2", role = "window", windows = [2], password = "${HASH}", name = "李娜", staff_number = "0215" },
  { user = "ev1", role = "evaluator", windows = [1], password = "${HASH}" },
  { user = "kiosk", role = "kiosk", password = "${HASH}", pin = "${PIN_HASH}" },
]
[hall.policy]
open_paused = false
[[hall.category]]
id = "elderly"
name = "70岁以上老年人"
[[hall.category]]
id = "military"
name = "现役军人及军人家属"
[[hall.category]]
id = "disabled"
name = "残疾人"
[[hall.zone]]
id = "general"
name = "无差别综合受理"
prefix = "A"
service = [
  { id = "card", name = "社会保障卡申领与补换" },
  { id = "medical", name = "城乡居民基本医疗保险参保登记" },
  { id = "pension", name = "养老保险待遇申领" },
]
[[hall.zone]]
id = "estate"
name = "不动产登记"
prefix = "B"
service = [
  { id = "transfer", name = "不动产转移登记（二手房买卖）" },
  { id = "mortgage", name = "抵押权首次登记" },
]
[[hall.zone]]
id = "police"
name = "公安户政与出入境"
prefix = "C"
service = [{ id = "hukou", name = "户口迁移" }, { id = "passport", name = "普通护照申领" }]
[[hall.zone]]
id = "tax"
name = "税务局"
prefix = "D"
service = [{ id = "invoice", name = "发票领用" }]
[[hall.zone]]
id = "fund"
name = "住房公积金中心"
prefix = "E"
service = [{ id = "draw", name = "公积金提取" }]
[[hall.zone]]
id = "business"
name = "企业开办（市场监督管理局）"
prefix = "F"
service = [{ id = "open", name = "企业设立登记" }]
`;

const hallcall = new Hallcall(CONFIG, 'sizes');
let browser;
let base;

before(async () => {
  await hallcall.start();
  base = hallcall.base;
  mkdirSync(STEPS, { recursive: true });
  browser = await launchChromium();
  // Window 1 staffed for the evaluator, window 2 calls the citizen's ticket.
  await apiAs('w1', '/windows/1/open');
  await apiAs('w2', '/windows/2/open');
});

after(async () => {
  await browser?.close();
  await hallcall.stop();
});

/** A page of `width`×`height` that records every console error, uncaught
 * exception and failed request. */
async function open(path, [width, height]) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.errors = [];
  page.on('console', (m) => {
    // A failed request is told by its response below, with its address.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.errors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) page.errors.push(`${r.status()} ${r.url()}`);
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${base}${path}`);
  return page;
}

const tokens = new Map();

/** A bearer token for `user`, signed in once (sign-ins are rate-limited). */
function tokenOf(user) {
  if (!tokens.has(user)) {
    tokens.set(user, fetch(`${base}/api/v1/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hall: HALL, user, password: PASSWORD }),
    }).then((r) => r.json()).then((login) => login.token));
  }
  return tokens.get(user);
}

/** POSTs to the hall's API as `user`; the answer's JSON (asserted ok). */
async function apiAs(user, path, body) {
  const res = await fetch(`${base}/api/v1/halls/${HALL}${path}`, {
    method: 'POST',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), authorization: `Bearer ${await tokenOf(user)}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** GETs from the hall's API as `user`. */
async function getAs(user, path) {
  const res = await fetch(`${base}/api/v1/halls/${HALL}${path}`, { headers: { authorization: `Bearer ${await tokenOf(user)}` } });
  return res.json();
}


/**
 * In the page: what is wrong with its layout. `keys`: selectors of the
 * step's controls, each of whose elements must lie inside the viewport and
 * inside every ancestor's clipping box; `areas`: selectors of the parts
 * whose every element must keep its text whole (not cut by a box that
 * hides overflow, not past the sides of the screen, no character alone on
 * a line); `touch`: the least height of a control there, in CSS pixels.
 */
function faultsIn({ keys, areas, touch }) {
  const EPS = 0.5;
  const W = innerWidth;
  const H = innerHeight;
  const faults = [];
  const name = (e) => {
    const id = e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}${typeof e.className === 'string' && e.className.trim() ? `.${e.className.trim().split(/\s+/).join('.')}` : ''}`;
    const data = Object.entries(e.dataset).map(([k, v]) => `[data-${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}=${v}]`).join('');
    const text = (e.textContent || e.placeholder || '').trim().replace(/\s+/g, ' ').slice(0, 24);
    return `${id}${data}${text ? ` "${text}"` : ''}`;
  };
  const shown = (e) => {
    if (!e.getClientRects().length) return false;
    for (let a = e; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.display === 'none' || s.visibility === 'hidden' || Number(s.opacity) === 0) return false;
    }
    return true;
  };
  const fmt = (r) => `${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}×${Math.round(r.height)}`;

  const sw = document.documentElement.scrollWidth;
  if (sw > W) faults.push(`scrolls sideways: ${sw} px wide in ${W}`);

  for (const sel of keys) {
    const found = [...document.querySelectorAll(sel)].filter(shown);
    if (!found.length) faults.push(`${sel}: not shown`);
    for (const e of found) {
      const r = e.getBoundingClientRect();
      if (r.left < -EPS || r.top < -EPS || r.right > W + EPS || r.bottom > H + EPS) {
        faults.push(`${name(e)}: outside the ${W}×${H} viewport (${fmt(r)})`);
        continue;
      }
      for (let a = e.parentElement; a; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
        const b = a.getBoundingClientRect();
        const left = b.left + a.clientLeft;
        const top = b.top + a.clientTop;
        if (r.left < left - EPS || r.top < top - EPS || r.right > left + a.clientWidth + EPS || r.bottom > top + a.clientHeight + EPS) {
          faults.push(`${name(e)}: clipped by ${name(a).slice(0, 30)} (${fmt(r)})`);
          break;
        }
      }
    }
  }

  const measure = document.createElement('canvas').getContext('2d');
  const seen = new Set();
  for (const root of areas.flatMap((s) => [...document.querySelectorAll(s)])) {
    for (const e of [root, ...root.querySelectorAll('*')]) {
      if (seen.has(e) || !shown(e)) continue;
      seen.add(e);
      const s = getComputedStyle(e);
      const r = e.getBoundingClientRect();
      if (r.width && (r.left < -EPS || r.right > W + EPS)) faults.push(`${name(e)}: runs off the side (${fmt(r)})`);
      const field = e instanceof HTMLInputElement || e instanceof HTMLTextAreaElement || e instanceof HTMLSelectElement;
      if (!field) {
        if ((s.overflowX !== 'visible' || s.textOverflow === 'ellipsis') && e.scrollWidth > e.clientWidth + 1) {
          faults.push(`${name(e)}: text cut on the right (${e.scrollWidth} px in ${e.clientWidth})`);
        }
        if (s.overflowY !== 'visible' && e.scrollHeight > e.clientHeight + 1) {
          faults.push(`${name(e)}: cut at the bottom (${e.scrollHeight} px in ${e.clientHeight})`);
        }
        // Text that spills out of its own box, drawn over what is beside it.
        const ownText = [...e.childNodes].some((c) => c.nodeType === Node.TEXT_NODE && c.data.trim());
        if (s.overflowX === 'visible' && ownText && e.clientWidth && e.scrollWidth > e.clientWidth + 1) {
          faults.push(`${name(e)}: text runs out of its box (${e.scrollWidth} px in ${e.clientWidth})`);
        }
      } else if (e instanceof HTMLInputElement && !['checkbox', 'radio', 'time'].includes(e.type)) {
        // What the field shows (its value, else its placeholder) fits it.
        measure.font = s.font;
        const text = e.value || e.placeholder;
        const room = e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
        const need = measure.measureText(text).width;
        if (need > room + 1) faults.push(`${name(e)}: "${text}" cut (${Math.round(need)} px in ${Math.round(room)})`);
      }
      if (touch && (e.matches('button, select, input:not([type=checkbox]):not([type=radio]), textarea, label:has(input[type=checkbox])')) && r.height < touch - EPS) {
        faults.push(`${name(e)}: ${Math.round(r.height)} px high, under ${touch} px for a finger`);
      }
    }
    // The lines of each box that holds text: none with one character
    // alone (punctuation aside). An inline-block of one line (a phrase, a
    // badge) is part of its parent's lines; a control is a box of its own.
    const bandsOf = (rects) => {
      const bands = [];
      for (const r of rects) {
        if (!r.height) continue;
        const mid = r.top + r.height / 2;
        if (!bands.some((b) => mid >= b.top && mid <= b.bottom)) bands.push({ top: r.top, bottom: r.bottom });
      }
      return bands.length;
    };
    const oneLine = (e) => {
      const range = document.createRange();
      range.selectNodeContents(e);
      return bandsOf([...range.getClientRects()]) <= 1;
    };
    const boxOf = (e) => {
      for (let a = e; a !== root; a = a.parentElement) {
        const d = getComputedStyle(a).display;
        if (d === 'inline' || d === 'contents') continue;
        if (d === 'inline-block' && !a.matches('button, label') && oneLine(a)) continue;
        return a;
      }
      return root;
    };
    const lines = new Map();
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (!n.data.trim() || !shown(n.parentElement)) continue;
      const box = boxOf(n.parentElement);
      if (!lines.has(box)) lines.set(box, []);
      const bands = lines.get(box);
      for (let i = 0; i < n.length; i++) {
        // Skip the low half of a surrogate pair; spaces are no character.
        if (/\s/.test(n.data[i]) || (n.data.charCodeAt(i) & 0xfc00) === 0xdc00) continue;
        const range = document.createRange();
        range.setStart(n, i);
        range.setEnd(n, i + ((n.data.charCodeAt(i) & 0xfc00) === 0xd800 ? 2 : 1));
        const r = range.getBoundingClientRect();
        if (!r.height) continue;
        const mid = r.top + r.height / 2;
        const band = bands.find((b) => mid >= b.top && mid <= b.bottom);
        if (band) band.chars.push([r.left, range.toString()]);
        else bands.push({ top: r.top, bottom: r.bottom, chars: [[r.left, range.toString()]] });
      }
    }
    for (const [box, bands] of lines) {
      if (bands.length < 2) continue;
      const texts = bands.sort((a, b) => a.top - b.top).map((b) => b.chars.sort((x, y) => x[0] - y[0]).map((c) => c[1]).join(''));
      for (const text of texts) {
        if ([...text.replace(/[\p{P}\p{S}]/gu, '')].length <= 1) faults.push(`${name(box)}: "${text}" alone on a line of ${JSON.stringify(texts)}`);
        // Nor one that starts with a mark that ends what is before it (避头).
        else if (/^[·，。、；：！？）》」』]/u.test(text)) faults.push(`${name(box)}: a line starts with "${text[0]}" in ${JSON.stringify(texts)}`);
      }
    }
  }
  return faults;
}

/** Measures `page` at `step`, and keeps what is wrong. */
async function check(page, faults, step, spec) {
  const found = await page.evaluate(faultsIn, { keys: [], areas: [], touch: 0, ...spec });
  faults.push(...found.map((f) => `${step}: ${f}`));
}

/** Asserts nothing was found wrong at `size`. */
function fine(faults, what, [w, h]) {
  assert.deepEqual(faults, [], `${what} at ${w}×${h}:\n  ${faults.join('\n  ')}`);
}

const shot = (page, name, [w, h]) => page.screenshot({ path: join(SHOTS, `${name}-${w}x${h}.png`) });
const stepShot = (page, name, [w, h]) => page.screenshot({ path: join(STEPS, `${name}-${w}x${h}.png`) });

const DESK_AREAS = ['header.bar', '.staff'];

for (const size of [[1366, 768], [1920, 1080], [1280, 1024]]) {
  test(`the guide desk at ${size.join('×')}: a normal and a 绿色通道 ticket, and their slips`, async () => {
    const faults = [];
    const desk = await open(`/desk?hall=${HALL}`, size);
    await signIn(desk, 'guide');
    await check(desk, faults, 'signed in', { keys: ['#title', '#search', '#zones [data-zone]', '#signout'], areas: DESK_AREAS });
    await desk.locator('[data-zone=estate]').click();
    await desk.locator('[data-service=transfer]').click();
    await desk.locator('#issue:not([disabled])').waitFor();
    const choose = ['#zones [data-zone]', '#services [data-service]', '#category', '#id-number', '#issue'];
    await check(desk, faults, 'chosen', { keys: choose, areas: DESK_AREAS });

    // A normal ticket: its number, and the slip as it prints.
    let issued = desk.waitForResponse((r) => r.url().endsWith(`/halls/${HALL}/tickets`) && r.request().method() === 'POST');
    await desk.locator('#issue').click();
    const normal = await (await issued).json();
    await desk.locator('#issued-number', { hasText: normal.ticket.number }).waitFor();
    assert.equal(await desk.locator('#issued-lane').count(), 0, 'a normal ticket has no lane badge');
    await desk.locator('#issued-detail', { hasText: `您前面还有 ${normal.ticket.people_ahead} 人在等待` }).waitFor();
    await check(desk, faults, 'issued', { keys: [...choose, '#issued-number', '#issued-detail', '#print'], areas: DESK_AREAS });
    await slip(desk, faults, normal, '', size);

    // A 绿色通道 ticket for a group with a long name.
    await desk.locator('#category').selectOption('military');
    await check(desk, faults, 'category chosen', { keys: choose, areas: DESK_AREAS });
    issued = desk.waitForResponse((r) => r.url().endsWith(`/halls/${HALL}/tickets`) && r.request().method() === 'POST');
    await desk.locator('#issue').click();
    const green = await (await issued).json();
    assert.equal(green.ticket.lane.kind, 'priority');
    await desk.locator('#issued-number', { hasText: green.ticket.number }).waitFor();
    await desk.locator('#issued-lane', { hasText: '绿色通道' }).waitFor();
    await check(desk, faults, 'green issued', { keys: [...choose, '#issued-number', '#issued-lane', '#issued-detail', '#print'], areas: DESK_AREAS });
    await shot(desk, 'desk', size);
    await slip(desk, faults, green, '绿色通道 · 现役军人及军人家属', size);

    fine(faults, 'the guide desk', size);
    noErrors(desk);
    await desk.close();
  });
}

/** The slip of `r` as it prints (print media): its number, its lane, the
 * 您 sentence, its QR code, nothing cut, no character alone. */
async function slip(page, faults, r, lane, size) {
  await page.locator('#slip-qr').evaluate((img) => img.decode());
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('#slip-number').textContent(), r.ticket.number);
  assert.equal(await page.locator('#slip-lane').isVisible() ? await page.locator('#slip-lane').textContent() : '', lane);
  assert.equal(await page.locator('#slip-ahead').textContent(), `您前面还有 ${r.ticket.people_ahead} 人在等待`);
  await check(page, faults, `slip ${r.ticket.number}`, {
    keys: ['#slip-hall', '#slip-service', '#slip-number', '#slip-ahead', '#slip-qr', '#slip-time'], areas: ['#slip'],
  });
  await stepShot(page, lane ? 'desk-slip-green' : 'desk-slip', size);
  await page.emulateMedia({ media: 'screen' });
}

const KIOSK_AREAS = ['header.bar', '.staff'];

for (const size of [[1080, 1920], [1920, 1080], [1280, 1024]]) {
  test(`the kiosk at ${size.join('×')}: a ticket taken and an appointment checked in, by finger, without scrolling`, async () => {
    const faults = [];
    const kiosk = await open(`/desk?hall=${HALL}&kiosk=1`, size);
    await signIn(kiosk, 'kiosk');
    const start = ['#title', '#settings', '#search', '#zones [data-zone]', '#checkin-code', '#checkin-by-code'];
    await check(kiosk, faults, 'start', { keys: start, areas: KIOSK_AREAS, touch: 44 });
    await stepShot(kiosk, 'kiosk-start', size);

    await kiosk.locator('[data-zone=general]').click();
    await kiosk.locator('[data-service=medical]').click();
    await kiosk.locator('#issue:not([disabled])').waitFor();
    const choose = ['#zones [data-zone]', '#services [data-service]', '#issue'];
    await check(kiosk, faults, 'chosen', { keys: choose, areas: KIOSK_AREAS, touch: 44 });
    const issued = kiosk.waitForResponse((r) => r.url().endsWith(`/halls/${HALL}/tickets`) && r.request().method() === 'POST');
    await kiosk.locator('#issue').click();
    const ticket = await (await issued).json();
    assert.equal(ticket.ticket.lane.kind, 'normal');
    await kiosk.locator('#issued-number', { hasText: ticket.ticket.number }).waitFor();
    await kiosk.locator('#issued-detail', { hasText: `您前面还有 ${ticket.ticket.people_ahead} 人在等待` }).waitFor();
    // The citizen sees their number, and the next one can start over.
    await check(kiosk, faults, 'issued', { keys: [...choose, '#issued-number', '#issued-detail', '#checkin-code', '#checkin-by-code'], areas: KIOSK_AREAS, touch: 44 });
    await shot(kiosk, 'kiosk', size);

    // An appointment booked ahead (as a booking system would), checked in
    // by the code from the citizen's SMS.
    const code = `YY${size[0]}X${size[1]}`;
    const slotStart = Date.now() + 10 * 60000;
    await apiAs('guide', '/appointments', { code, zone: 'estate', service: 'mortgage', slot_start: slotStart, slot_end: slotStart + 30 * 60000 });
    await kiosk.locator('#checkin-code').fill(code.toLowerCase());
    await check(kiosk, faults, 'code typed', { keys: ['#checkin-code', '#checkin-by-code'], areas: KIOSK_AREAS, touch: 44 });
    const checked = kiosk.waitForResponse((r) => r.url().includes('/check-in'));
    await kiosk.locator('#checkin-by-code').click();
    const booked = await (await checked).json();
    assert.equal(booked.ticket.lane.kind, 'appointment', JSON.stringify(booked));
    await kiosk.locator('#issued-number', { hasText: booked.ticket.number }).waitFor();
    await kiosk.locator('#issued-lane', { hasText: '预约' }).waitFor();
    await check(kiosk, faults, 'checked in', { keys: ['#issued-number', '#issued-lane', '#issued-detail', '#checkin-code', '#checkin-by-code'], areas: KIOSK_AREAS, touch: 44 });
    await stepShot(kiosk, 'kiosk-checked-in', size);

    fine(faults, 'the kiosk', size);
    noErrors(kiosk);
    await kiosk.close();
  });
}

for (const size of [[1280, 800], [800, 1280], [1024, 600]]) {
  test(`the evaluator at ${size.join('×')}: who serves, five buttons without scrolling, 不满意 with a reason`, async () => {
    const faults = [];
    const areas = ['.ev'];
    const ev = await open(`/evaluator?hall=${HALL}`, size);
    await signIn(ev, 'ev1');
    await ev.locator('#staff-name', { hasText: '欧阳明辉' }).waitFor();
    await ev.locator('#staff-no', { hasText: '工号 0307' }).waitFor();
    await ev.locator('#serving', { hasText: '您好' }).waitFor();
    const card = ['#no', '#wname', '#staff-name', '#staff-no', '#serving'];
    await check(ev, faults, 'idle', { keys: card, areas });
    await stepShot(ev, 'evaluator-idle', size);

    const { ticket } = await apiAs('guide', '/tickets', { zone: 'general', service: 'pension' });
    await apiAs('w1', '/windows/1/call', { ticket: ticket.number });
    await apiAs('w1', '/windows/1/start');
    await ev.locator('#serving', { hasText: ticket.number }).waitFor();
    await check(ev, faults, 'serving', { keys: card, areas });

    await apiAs('w1', '/windows/1/finish');
    await ev.locator('#rate-panel', { hasText: ticket.number }).waitFor();
    await check(ev, faults, 'rate', { keys: ['#rate-panel h2', '[data-level]'], areas, touch: 44 });
    assert.deepEqual(await ev.locator('[data-level]').allTextContents(), ['非常满意', '满意', '基本满意', '不满意', '非常不满意']);
    await shot(ev, 'evaluator', size);

    await ev.locator('[data-level=dissatisfied]').click();
    await ev.locator('#reasons-panel').waitFor();
    await check(ev, faults, 'reasons', { keys: ['#reasons-panel h2', '#reasons-panel label', '#send-rating'], areas, touch: 44 });
    await ev.locator('[data-reason=evReasonSlow]').check();
    await stepShot(ev, 'evaluator-reasons', size);
    await ev.locator('#send-rating').click();
    await ev.locator('#thanks').waitFor();
    await check(ev, faults, 'thanks', { keys: ['#thanks'], areas });
    const rated = await getAs('w1', `/tickets/${ticket.number}`);
    assert.deepEqual([rated.rating?.level, rated.rating?.comment], ['dissatisfied', '办事效率低']);

    // Back to who serves by itself.
    await ev.locator('#staff-name', { hasText: '欧阳明辉' }).waitFor();
    await ev.locator('#serving', { hasText: '您好' }).waitFor();
    await check(ev, faults, 'idle again', { keys: card, areas });

    fine(faults, 'the evaluator', size);
    noErrors(ev);
    await ev.close();
  });
}

for (const size of [[360, 740], [390, 844], [768, 1024]]) {
  test(`the citizen's ticket page at ${size.join('×')}: waiting, called, finished and rated`, async () => {
    const faults = [];
    const areas = ['main.phone'];
    // Someone ahead in the queue.
    await apiAs('guide', '/tickets', { zone: 'estate', service: 'transfer' });
    const mine = await apiAs('guide', '/tickets', { zone: 'estate', service: 'transfer' });
    assert.ok(mine.ticket.people_ahead >= 1);
    // The address the slip's QR code and the issuing reply give.
    const phone = await open(`/t/${encodeURIComponent(mine.token)}`, size);
    await phone.locator('#num', { hasText: mine.ticket.number }).waitFor();
    await phone.locator('#state', { hasText: '等候中' }).waitFor();
    await phone.locator('#detail', { hasText: `您前面还有 ${mine.ticket.people_ahead} 人在等待` }).waitFor();
    const top = ['#hall', '#num', '#service', '#state', '#detail'];
    await check(phone, faults, 'waiting', { keys: top, areas });
    await stepShot(phone, 'ticket-waiting', size);

    await apiAs('w2', '/windows/2/call', { ticket: mine.ticket.number });
    await phone.locator('#state', { hasText: '请前往窗口' }).waitFor();
    await phone.locator('#detail', { hasText: '请到 2 号窗口' }).waitFor();
    await check(phone, faults, 'called', { keys: top, areas });
    await stepShot(phone, 'ticket-called', size);

    await apiAs('w2', '/windows/2/start');
    await apiAs('w2', '/windows/2/finish');
    await phone.locator('#state', { hasText: '已办结' }).waitFor();
    await phone.locator('#rate').waitFor();
    await check(phone, faults, 'finished', { keys: ['#num', '#state'], areas, touch: 44 });
    await stepShot(phone, 'ticket-finished', size);
    // The form, once scrolled to as a thumb would, is on screen whole.
    await phone.locator('#rate').scrollIntoViewIfNeeded();
    await phone.locator('[data-level=basic]').click();
    await phone.locator('#comment').fill('材料一次告知清楚，但等候时间有点长');
    await check(phone, faults, 'rating', { keys: ['#rate h3', '[data-level]', '#comment', '#send'], areas, touch: 44 });
    await shot(phone, 'ticket', size);
    await phone.locator('#send:not([disabled])').click();
    await phone.locator('#rated', { hasText: '基本满意' }).waitFor();
    await check(phone, faults, 'rated', { keys: ['#rated'], areas, touch: 44 });
    await stepShot(phone, 'ticket-rated', size);
    const view = await (await fetch(`${base}/api/v1/tickets/${encodeURIComponent(mine.token)}`)).json();
    assert.equal(view.ticket.rating?.level, 'basic');

    fine(faults, 'the ticket page', size);
    noErrors(phone);
    await phone.close();
  });
}
