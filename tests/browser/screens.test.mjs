// The hall's screens as a visitor sees them, in a real headless Chromium
// against the real hallcall binary: the hall display (综合屏) of a hall of
// 30 zones and 70 windows, and of one of 7 zones, at 1920×1080, 1366×768,
// 3840×2160 and portrait 1080×1920 (every zone's waiting figure and every
// window's row is shown in full, over the pages if it turns pages, and no
// figure wraps); the window display (窗口屏) in each of its states; the
// landing page's links are readable.
//
// Run with the other browser tests: (cd tests/browser && npm test), with
// HALLCALL_BIN pointing at a built hallcall (default target/debug). A debug
// build serves the pages from HALLCALL_PAGES_DIR when it is set (it is
// passed on to the server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SHOTS, HASH, PASSWORD, zoneNearNoon, Hallcall, launchChromium, signIn, noErrors } from './harness.mjs';

const SIZES = [[1920, 1080], [1366, 768], [3840, 2160], [1080, 1920]];
// The hall display turns its pages every N seconds (10 in a hall).
const PAGE_EVERY = 2;


// Names as long as real halls have them (config/puning.toml).
const ZONE_NAMES = ['无差别综合受理', '市场监督管理局', '税务局', '自然资源局', '住房和城乡建设局', '生态环境局普宁分局',
  '卫生健康局', '应急管理局', '消防救援大队', '发展和改革局', '残疾人联合会', '城市管理和综合执法局', '人力资源和社会保障局',
  '教育局', '广播电视', '交通运输局', '供水公司', '公安户政', '出入境', '车辆管理所', '医疗保障局', '民政局', '退役军人事务局',
  '司法局', '农业农村局', '文广旅体局', '水务局', '其他(工信财政统计国资供电)', '证件领取/EMS代寄', '住房公积金中心'];
const PREFIXES = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'AA', 'AB', 'AC', 'AD'];
const NOTICE = '请携带身份证件，在休息区等候叫号；70岁以上老人、残疾人、孕妇可到引导台走绿色通道。办事不满意请扫码评价（好差评）。';

/** A hall of `zones` zones and `windows` windows; window n serves zone (n-1) mod zones. */
function hallToml(id, zones, windows, notice) {
  // Window 5, where the last call goes, has a long name: the call then
  // takes two lines and leaves the lists less room.
  const name = (i) => (i === 4 ? '住房和城乡建设局 房屋交易 不动产登记 抵押登记 综合受理窗口' : ZONE_NAMES[i % zones].slice(0, 6));
  const ws = Array.from({ length: windows }, (_, i) =>
    `  { number = ${i + 1}, name = "${name(i)}", serves = ["z${i % zones}"] },`);
  const zs = Array.from({ length: zones }, (_, i) => `[[hall.zone]]
id = "z${i}"
name = "${ZONE_NAMES[i]}"
prefix = "${PREFIXES[i]}"
service = [{ id = "s", name = "综合业务" }]`);
  return `
[[hall]]
id = "${id}"
name = "${id === 'big' ? '普宁市政务服务中心（测试）' : '谯城区政务服务中心（测试）'}"
name_en = "Test hall ${id}"
time_zone = "${zoneNearNoon()}"
window = [
${ws.join('\n')}
]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w", role = "window", windows = [${Array.from({ length: windows }, (_, i) => i + 1).join(', ')}], password = "${HASH}", name = "张敏", staff_number = "0412" },
  { user = "display", role = "display", password = "${HASH}" },
  { user = "supervisor", role = "supervisor", password = "${HASH}" },
]
${notice ? `[hall.display]\nnotice = "${notice}"\n` : ''}
[[hall.category]]
id = "elderly"
name = "70岁以上老年人"
${zs.join('\n')}
`;
}

const CONFIG = hallToml('big', 30, 70, NOTICE) + hallToml('small', 7, 12, '');


const hallcall = new Hallcall(CONFIG, 'screens');
let browser;
let base;

before(async () => {
  await hallcall.start();
  base = hallcall.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await hallcall.stop();
});

/** A page that records every console error and uncaught exception. */
async function open(path, { width = 1920, height = 1080 } = {}) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.errors = [];
  page.on('console', (m) => {
    // A failed load is told by its response below, with its address.
    if (m.type() === 'error' && !/WebSocket connection|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) page.errors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) page.errors.push(`${r.status()} ${r.url()}`);
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${base}${path}`);
  return page;
}


const tokens = new Map();

/** POSTs to the API as `user` of `hall`; the answer's status and JSON. */
async function apiAs(hall, user, path, body) {
  const who = `${hall}/${user}`;
  // One sign-in per account (sign-ins are rate-limited), shared by the
  // requests sent at once.
  if (!tokens.has(who)) {
    tokens.set(who, fetch(`${base}/api/v1/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hall, user, password: PASSWORD }),
    }).then((r) => r.json()).then((login) => login.token));
  }
  const res = await fetch(`${base}/api/v1/halls/${hall}${path}`, {
    method: 'POST',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), authorization: `Bearer ${await tokens.get(who)}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert.ok(res.ok, `${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Runs `jobs` (functions returning promises), `n` at a time. */
async function inParallel(jobs, n = 6) {
  const queue = [...jobs];
  await Promise.all(Array.from({ length: n }, async () => {
    while (queue.length) await queue.shift()();
  }));
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}


/**
 * Fills a hall: tickets waiting in every zone but the last (one zone with
 * over 100), windows open and calling, a few paused, the last ones never
 * opened; the last two calls are an appointment at window 2 and a
 * green-channel (绿色通道) ticket at window 5. Returns those two calls.
 */
async function fill(hall, zones, windows) {
  const waiting = (z) => (z === zones - 1 ? 0 : z === 0 ? 118 : 1 + ((z * 7) % 23));
  const issues = [];
  for (let z = 0; z < zones; z++) {
    for (let i = 0; i < waiting(z) + 2; i++) issues.push(() => apiAs(hall, 'guide', '/tickets', { zone: `z${z}`, service: 's' }));
  }
  await inParallel(issues);
  const open = windows - 4;
  await inParallel(Array.from({ length: open }, (_, i) => async () => {
    const opened = await apiAs(hall, 'w', `/windows/${i + 1}/open`);
    // Where windows open paused (签到未开始), they resume, but for the
    // last two, which pause for lunch.
    if (i + 1 < open - 1) {
      if (opened.window.paused) await apiAs(hall, 'w', `/windows/${i + 1}/resume`);
    } else if (!opened.window.paused) {
      await apiAs(hall, 'w', `/windows/${i + 1}/pause`, { reason: 'lunch' });
    }
  }));
  // Calls at the windows that are open and serve a zone with people
  // waiting, a round or more until at least ten calls were made.
  const callers = Array.from({ length: open - 2 }, (_, i) => i + 1)
    .filter((n) => n !== 2 && n !== 5 && waiting((n - 1) % zones) > 0);
  let made = 0;
  for (let round = 0; made < 10; round++) {
    for (const n of callers) {
      if (round > 0) await apiAs(hall, 'w', `/windows/${n}/skip`);
      await apiAs(hall, 'w', `/windows/${n}/call-next`);
      made += 1;
    }
  }
  const now = Date.now();
  const booked = await apiAs(hall, 'guide', '/appointments/check-in',
    { zone: 'z1', service: 's', slot_start: now - 5 * 60000, slot_end: now + 25 * 60000 });
  await apiAs(hall, 'w', '/windows/2/call', { ticket: booked.ticket.number });
  const green = await apiAs(hall, 'guide', '/tickets', { zone: 'z4', service: 's', category: 'elderly' });
  await apiAs(hall, 'w', '/windows/5/call', { ticket: green.ticket.number });
  return { appointment: booked.ticket.number, priority: green.ticket.number };
}

/**
 * In the page: what is shown in full. An element counts when its box and
 * its text lie inside the viewport and inside the clipping box of every
 * ancestor that clips (overflow other than visible), nothing hides it, and
 * its text is one line. A text's box is its font's whole height (for CJK
 * fonts some 1.45 em, more than its line): the glyphs fill the middle
 * 1 em of it, so its top and bottom may pass by a fifth of an em.
 */
function inView() {
  const EPS = 0.5;
  const inside = (r, b) => r.left >= b.left - EPS && r.top >= b.top - EPS && r.right <= b.right + EPS && r.bottom <= b.bottom + EPS;
  function shown(e) {
    const boxes = [e.getBoundingClientRect()];
    const text = [];
    const walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (!n.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      const em = parseFloat(getComputedStyle(n.parentElement).fontSize);
      for (const r of range.getClientRects()) {
        if (r.width > 0) text.push(new DOMRect(r.x, r.y + em / 5, r.width, Math.max(0, r.height - (2 * em) / 5)));
      }
    }
    if (e.textContent.trim() && !text.length) return { ok: false, lines: 0, why: 'no text box' };
    boxes.push(...text);
    if (boxes[0].width === 0 || boxes[0].height === 0) return { ok: false, lines: 0, why: 'no box' };
    // Lines: text boxes that do not share a height band.
    const bands = [];
    for (const r of text) {
      const mid = r.top + r.height / 2;
      if (!bands.some((b) => mid >= b.top && mid <= b.bottom)) bands.push(r);
    }
    const lines = bands.length;
    const view = { left: 0, top: 0, right: innerWidth, bottom: innerHeight };
    if (!boxes.every((r) => inside(r, view))) return { ok: false, lines, why: 'outside the viewport' };
    for (let a = e; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.display === 'none' || s.visibility !== 'visible' || Number(s.opacity) === 0) return { ok: false, lines, why: 'hidden' };
      if (a !== e && (s.overflowX !== 'visible' || s.overflowY !== 'visible')) {
        const r = a.getBoundingClientRect();
        const clip = { left: r.left + a.clientLeft, top: r.top + a.clientTop };
        clip.right = clip.left + a.clientWidth;
        clip.bottom = clip.top + a.clientHeight;
        const out = boxes.find((b) => !inside(b, clip));
        if (out) return { ok: false, lines, why: `clipped by ${a.tagName}.${a.className} (${JSON.stringify(clip)} vs ${JSON.stringify(out)})` };
      }
    }
    // Text cut by its own box (an ellipsis) is not shown in full either.
    if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible') return { ok: false, lines, why: 'cut by its box' };
    return { ok: true, lines };
  }
  const out = { zones: {}, windows: {}, recent: [], latest: null, wrapped: [], why: {} };
  for (const z of document.querySelectorAll('[data-zone]')) {
    const fig = z.querySelector('[data-figure]');
    const s = fig ? shown(fig) : { ok: false, lines: 0, why: 'no [data-figure]' };
    const name = z.querySelector('.name');
    const n = name ? shown(name) : { ok: true };
    if (s.ok && n.ok) out.zones[z.dataset.zone] = fig.textContent;
    else out.why[`zone ${z.dataset.zone}`] = s.why ?? `name ${n.why}`;
    if (s.lines > 1) out.wrapped.push(`zone ${z.dataset.zone}: ${fig.textContent}`);
  }
  for (const w of document.querySelectorAll('#windows [data-window]')) {
    const s = [w, ...w.children].map(shown);
    if (s.every((x) => x.ok)) out.windows[w.dataset.window] = w.textContent;
    else out.why[`window ${w.dataset.window}`] = s.find((x) => !x.ok).why;
    for (const c of w.children) if (shown(c).lines > 1) out.wrapped.push(`window ${w.dataset.window}: ${c.textContent}`);
  }
  for (const li of document.querySelectorAll('#recent li')) {
    const s = shown(li);
    out.recent.push({ text: li.textContent, ok: s.ok && [...li.children].every((c) => shown(c).ok), lane: li.className, color: getComputedStyle(li.firstElementChild ?? li).color });
  }
  const sentence = document.querySelector('#latest-sentence');
  if (sentence) {
    const figures = [...sentence.querySelectorAll('#latest-number, #latest-window')];
    out.latest = {
      text: sentence.textContent.replace(/\s+/g, ' ').trim(),
      spaced: [...sentence.children].map((c) => c.textContent.trim()).filter(Boolean).join(' '),
      ok: shown(sentence).ok && figures.length === 2 && figures.every((f) => shown(f).ok && shown(f).lines === 1),
      where: document.querySelector('#latest-where')?.textContent ?? '',
      whereOk: [...(document.querySelector('#latest-where')?.children ?? [])].every((c) => shown(c).ok),
    };
  }
  const notice = document.querySelector('#notice');
  out.notice = notice ? { text: notice.textContent, left: notice.getBoundingClientRect().left } : null;
  out.header = document.querySelector('header')?.textContent ?? '';
  return out;
}

/**
 * Watches the hall display for up to `ms` until every zone and every
 * window has been shown in full; returns what it saw.
 */
async function watch(page, zones, windows, ms = 30000) {
  const seenZones = new Map();
  const seenWindows = new Map();
  const wrapped = new Set();
  const why = {};
  let last;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    last = await page.evaluate(inView);
    for (const [z, v] of Object.entries(last.zones)) seenZones.set(z, v);
    for (const [w, v] of Object.entries(last.windows)) seenWindows.set(w, v);
    for (const w of last.wrapped) wrapped.add(w);
    Object.assign(why, last.why);
    if (seenZones.size >= zones && seenWindows.size >= windows) break;
    await page.waitForTimeout(400);
  }
  return { seenZones, seenWindows, wrapped, last, why };
}

/** The hall display of `hall` at every size: everything readable in full. */
async function checkHall(hall, zones, windows, calls, shotName) {
  const page = await open(`/hall?hall=${hall}&page_every=${PAGE_EVERY}`);
  await signIn(page, 'display');
  await page.locator('#latest-number', { hasText: calls.priority }).waitFor();
  for (const [width, height] of SIZES) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(300);
    const at = `${hall} at ${width}×${height}`;
    await shot(page, `${shotName}-${width}x${height}`);
    const first = await page.evaluate(inView);

    // Eight recent calls, all in full; the lanes in their own colours.
    assert.ok(first.recent.length >= 8, `${at}: ${first.recent.length} recent calls listed`);
    assert.deepEqual(first.recent.filter((r) => !r.ok).map((r) => r.text), [], `${at}: recent calls cut off`);
    const byLane = (l) => first.recent.find((r) => r.lane.includes(`lane-${l}`));
    assert.ok(byLane('priority') && byLane('appointment') && byLane('normal'), `${at}: recent calls of every lane: ${first.recent.map((r) => r.lane)}`);
    assert.equal(new Set(['priority', 'appointment', 'normal'].map((l) => byLane(l).color)).size, 3, `${at}: each lane its own colour`);

    // The latest call, as a sentence: 请 B003 号到 5 号窗口办理.
    assert.ok(first.latest, `${at}: no #latest-sentence`);
    assert.equal(first.latest.spaced, `请 ${calls.priority} 号到 5 号窗口办理`, `${at}: the call's sentence`);
    assert.ok(first.latest.ok, `${at}: the call's sentence is not shown in full on one line each figure`);
    assert.match(first.latest.where, /绿色通道/, `${at}: a green-channel call says so`);
    assert.ok(first.latest.whereOk, `${at}: the window's name and the lane are not shown in full`);

    // Date, weekday and time.
    assert.match(first.header, /星期[一二三四五六日天]/, `${at}: the weekday`);
    assert.match(first.header, /\d{4}年\d{1,2}月\d{1,2}日/, `${at}: the date`);
    assert.match(first.header, /\d{1,2}:\d{2}:\d{2}/, `${at}: the time`);

    // Every zone's waiting figure and every window, over the pages.
    const seen = await watch(page, zones, windows);
    const missingZones = Array.from({ length: zones }, (_, i) => `z${i}`).filter((z) => !seen.seenZones.has(z));
    const missingWindows = Array.from({ length: windows }, (_, i) => String(i + 1)).filter((w) => !seen.seenWindows.has(w));
    const why = (kind, ids) => ids.map((id) => `${id}: ${seen.why[`${kind} ${id}`] ?? 'never listed'}`);
    assert.deepEqual(why('zone', missingZones), [], `${at}: zones never shown in full`);
    assert.deepEqual(why('window', missingWindows), [], `${at}: windows never shown in full`);
    assert.deepEqual([...seen.wrapped], [], `${at}: figures wrapped onto two lines`);
    assert.match(seen.seenZones.get('z0'), /^\d+/, `${at}: a waiting figure`);
  }
  noErrors(page);
  return page;
}

let bigCalls;

test('the hall display of a hall of 30 zones and 70 windows shows every zone and window, at every size', async () => {
  bigCalls = await fill('big', 30, 70);
  const page = await checkHall('big', 30, 70, bigCalls, 'hall');
  // The configured notice scrolls.
  const a = await page.evaluate(inView);
  assert.equal(a.notice?.text, NOTICE);
  await page.waitForTimeout(700);
  const b = await page.evaluate(inView);
  assert.notEqual(a.notice.left, b.notice.left, 'the notice scrolls');
  await page.close();
});

test('the hall display of a hall of 7 zones, at every size, with its default notice', async () => {
  const calls = await fill('small', 7, 12);
  const page = await checkHall('small', 7, 12, calls, 'hall-7zones');
  const a = await page.evaluate(inView);
  assert.equal(a.notice?.text, '请在休息区等候，注意呼叫及大屏显示信息');
  await page.close();
});

/** The window display's big line and the line under it. */
async function windowText(page) {
  return page.evaluate(() => ({
    now: document.querySelector('#now')?.textContent.trim(),
    all: document.querySelector('.window-screen')?.textContent.replace(/\s+/g, ' ') ?? '',
  }));
}

test('the window display: 未签到, then 空闲, then 暂停服务 · 午休, then the ticket', async () => {
  const hall = 'small';
  // Window 12 has never been opened (fill() leaves the last four closed).
  const screen = await open(`/window?hall=${hall}&window=12`, { width: 1366, height: 768 });
  await signIn(screen, 'display');
  // The pause reason reaches staff accounts; a screen signed in as a
  // supervisor shows it (a display account gets no reason: see below).
  const staffScreen = await open(`/window?hall=${hall}&window=12`, { width: 1366, height: 768 });
  await signIn(staffScreen, 'supervisor');
  await screen.locator('#now', { hasText: '未签到' }).waitFor();
  assert.match((await windowText(screen)).all, /12号窗口/);
  await shot(screen, 'window-closed');

  const opened = await apiAs(hall, 'w', '/windows/12/open');
  if (opened.window.paused) await apiAs(hall, 'w', '/windows/12/resume');
  await screen.locator('#now', { hasText: '空闲' }).waitFor();
  await screen.locator('.window-screen', { hasText: '张敏（工号0412）' }).waitFor();
  await shot(screen, 'window-idle');

  await apiAs(hall, 'w', '/windows/12/pause', { reason: 'lunch' });
  await screen.locator('#now', { hasText: '暂停服务' }).waitFor();
  await staffScreen.locator('.window-screen', { hasText: /暂停服务\s*·?\s*午休/ }).waitFor();
  await shot(staffScreen, 'window-paused');

  await apiAs(hall, 'w', '/windows/12/resume');
  await apiAs(hall, 'guide', '/tickets', { zone: 'z4', service: 's' });
  const called = await apiAs(hall, 'w', '/windows/12/call-next');
  await screen.locator('#now', { hasText: called.window.current }).waitFor();
  await shot(screen, 'window-serving');

  await apiAs(hall, 'w', '/windows/12/skip');
  await apiAs(hall, 'w', '/windows/12/close');
  await screen.locator('#now', { hasText: '未签到' }).waitFor();
  noErrors(screen, staffScreen);
  await screen.close();
  await staffScreen.close();
});

test('the window display signed in as a display account shows why a window paused', async () => {
  const hall = 'small';
  const screen = await open(`/window?hall=${hall}&window=11`, { width: 1366, height: 768 });
  try {
    await signIn(screen, 'display');
    const opened = await apiAs(hall, 'w', '/windows/11/open');
    if (opened.window.paused) await apiAs(hall, 'w', '/windows/11/resume');
    const paused = await apiAs(hall, 'w', '/windows/11/pause', { reason: 'lunch', minutes: 45 });
    await screen.locator('#now', { hasText: '暂停服务' }).waitFor();
    await screen.locator('.window-screen', { hasText: /暂停服务\s*·?\s*午休/ }).waitFor({ timeout: 3000 });
    // And when it resumes, as staff said: 午休 · 13:30 恢复服务.
    const back = await screen.evaluate((ms) => new Date(ms).toLocaleTimeString('zh-CN', { hour: '2-digit', minute: '2-digit', hour12: false }), paused.window.resumes_at);
    await screen.locator('.window-screen', { hasText: `午休 · ${back} 恢复服务` }).waitFor({ timeout: 3000 });
    await shot(screen, 'window-paused-until');
  } finally {
    await screen.close();
  }
});

/** WCAG contrast of two CSS colours (rgb/rgba strings), against `under`. */
function contrast(fg, bg) {
  const parse = (c) => c.match(/[\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const ch = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
  };
  const [a, b] = [lum(parse(fg)), lum(parse(bg))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

test('the landing page: every link reads with contrast of at least 4.5:1', async () => {
  const page = await open('/', { width: 1366, height: 768 });
  await page.locator('#pages a').first().waitFor();
  const links = await page.evaluate(() => [...document.querySelectorAll('a')].map((a) => {
    // The colour behind the link: the nearest opaque background, with the
    // translucent ones above it laid over it.
    const layers = [];
    for (let e = a; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor.match(/[\d.]+/g).map(Number);
      layers.push(c);
      if (c.length < 4 || c[3] === 1) break;
    }
    let bg = [255, 255, 255];
    for (const c of layers.reverse()) {
      const alpha = c.length < 4 ? 1 : c[3];
      bg = bg.map((v, i) => v * (1 - alpha) + c[i] * alpha);
    }
    return { text: a.textContent, color: getComputedStyle(a).color, background: `rgb(${bg.join(',')})` };
  }));
  assert.ok(links.length >= 8, `${links.length} links`);
  const poor = links.map((l) => ({ ...l, ratio: contrast(l.color, l.background) })).filter((l) => l.ratio < 4.5);
  assert.deepEqual(poor, [], 'links with contrast under 4.5:1');
  await shot(page, 'index');
  noErrors(page);
  await page.close();
});
