// What every page shares: the API, signing in, small DOM helpers.
import { t, applyI18n } from './i18n.js';

export const params = new URLSearchParams(location.search);

export class ApiError extends Error {
  constructor(status, code, message, opens) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    // zone_closed: when the zone issues tickets again (local time).
    this.opens = opens;
  }
}

/** A fresh idempotency key (crypto.randomUUID needs https; a hall's LAN
 * address is plain http, where getRandomValues still works). */
export function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Tries after a lost answer, with the same key (so never done twice). */
const RETRIES = [400, 1500];

/** Answers that mean the hall is moving between servers: nothing was done
 * (503 hall_moving) or the server that had it stopped answering (502
 * owner_unconfirmed: the same key tells). Asked again after Retry-After,
 * up to this many times (about 8 s), so a move goes unnoticed. */
const MOVING = new Set(['hall_moving', 'owner_unconfirmed']);
const MOVE_RETRIES = 8;

/**
 * Calls the API; throws ApiError with the server's code and message.
 * A POST carries an `Idempotency-Key` (a new one per call unless `key` is
 * given) and is sent again with it when the answer is lost on the way,
 * so a retry can never issue a second ticket or call twice.
 */
export async function api(path, { method = 'GET', body, token, key } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  if (method === 'POST' && path !== '/login') headers['idempotency-key'] = key ?? newKey();
  const send = () => fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let res;
  let json = null;
  for (let moved = 0; ; moved++) {
    for (let attempt = 0; ; attempt++) {
      try {
        res = await send();
        break;
      } catch (e) {
        // A network error: the request may or may not have been done.
        if (!headers['idempotency-key'] || attempt >= RETRIES.length) throw new ApiError(0, 'network', e.message);
        await new Promise((r) => setTimeout(r, RETRIES[attempt]));
      }
    }
    json = (res.headers.get('content-type') || '').includes('json') ? await res.json() : null;
    if (!MOVING.has(json?.error?.code) || moved >= MOVE_RETRIES) break;
    const wait = Math.min(5, Number(res.headers.get('retry-after')) || 1);
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
  if (!res.ok) throw new ApiError(res.status, json?.error?.code, json?.error?.message, json?.error?.opens);
  return json;
}

// The second click of a double-click on a button is dropped before any
// handler sees it: a fast server may have answered the first click and
// re-enabled the button by then, and a double-click still means once.
document.addEventListener('click', (e) => {
  if (e.detail > 1 && e.target instanceof Element && e.target.closest('button')) {
    e.stopImmediatePropagation();
    e.preventDefault();
  }
}, true);

/** A pass (good for a minute) made from a sign-in token, for an address
 * that cannot carry a header (an <audio> source): a sign-in token never
 * goes in an address. Reused for 40 s of its minute (counted on our own
 * clock, which may differ from the server's). */
const passes = new Map();
export async function passFor(hallId, token) {
  const kept = passes.get(token);
  if (kept && Date.now() < kept.until) return kept.pass;
  const res = await fetch(`/api/v1/halls/${hallId}/passes`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new ApiError(res.status, 'no_pass', `no pass: HTTP ${res.status}`);
  const { pass } = await res.json();
  passes.set(token, { pass, until: Date.now() + 40000 });
  return pass;
}

/**
 * Runs `action` with `buttons` disabled until it ends; a click (or key)
 * while it runs is ignored, so a double-click does a thing once.
 */
export async function busy(buttons, action) {
  const list = [buttons].flat().filter(Boolean);
  if (list.some((b) => b.dataset.busy)) return undefined;
  const was = list.map((b) => b.disabled);
  for (const b of list) {
    b.dataset.busy = '1';
    b.disabled = true;
  }
  try {
    return await action();
  } finally {
    list.forEach((b, i) => {
      delete b.dataset.busy;
      b.disabled = was[i];
    });
  }
}

/** An error for people: the page's own words for a known refusal code,
 * else the server's message. */
export function explain(err) {
  const key = `err_${err?.code}`;
  const said = t(key);
  if (said === key) return err?.message ?? String(err);
  return err?.opens ? `${said}${t('opensAt', { t: err.opens })}` : said;
}

/** Creates an element: el('div', {class: 'x'}, 'text', child). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

/** The halls this server runs (cached for the page's life). */
let hallsCache;
export async function halls() {
  hallsCache ??= (await api('/halls')).halls;
  return hallsCache;
}

/**
 * Reads the hall again when a live snapshot comes from another configuration
 * version than the page's (an administrator changed the hall while it
 * runs): `hall` is updated in place. True when it changed.
 */
export async function followConfig(hall, m) {
  const want = m?.type === 'snapshot' ? m.hall?.config : undefined;
  if (want === undefined || want === hall.config) return false;
  for (let tries = 0; tries < 3; tries++) {
    hallsCache = undefined;
    const fresh = (await halls()).find((h) => h.id === hall.id);
    if (fresh && fresh.config >= want) {
      for (const k of Object.keys(hall)) delete hall[k];
      Object.assign(hall, fresh);
      return true;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

/** The hall of this page: ?hall=, the last one used here, or the first. */
export async function currentHall() {
  const all = await halls();
  const want = params.get('hall') || localStorage.getItem('hallcall.hall');
  const hall = all.find((h) => h.id === want) || all[0];
  localStorage.setItem('hallcall.hall', hall.id);
  return hall;
}

const sessionKey = (hall) => `hallcall.session.${hall}`;

function storedSession(hall) {
  try {
    const s = JSON.parse(localStorage.getItem(sessionKey(hall)) || 'null');
    if (s && (!s.expires_at || s.expires_at > Date.now())) return s;
  } catch { /* a damaged entry: sign in again */ }
  return null;
}

export function signOut(hall) {
  localStorage.removeItem(sessionKey(hall));
  location.reload();
}

/** How often a device waiting for its pairing code asks whether it was entered. */
const PAIR_POLL_MS = 2000;

/**
 * The signed-in session for `hall`, asking for a user name and password
 * when there is none (or it expired). `roles` limits who may use the page.
 * A device (`devices`: a screen, LED strip, kiosk or evaluator page) may
 * instead show a pairing code to enter on the supervisor board: it does
 * so by itself on a screen too small for the form (an LED strip).
 */
export async function session(hall, roles, { devices = false } = {}) {
  const s = storedSession(hall);
  if (s && (!roles || roles.includes(s.role) || s.role === 'admin')) return s;
  return new Promise((resolve) => {
    const overlay = el('div', { class: 'overlay' });
    const accept = (got, error) => {
      if (roles && !roles.includes(got.role) && got.role !== 'admin') {
        error.textContent = `${got.role}: ${t('refused')}`;
        return false;
      }
      localStorage.setItem(sessionKey(hall), JSON.stringify(got));
      overlay.remove();
      resolve(got);
      return true;
    };
    let stopPairing = () => {};
    const showForm = () => {
      stopPairing();
      const error = el('p', { class: 'error', role: 'alert' });
      const user = el('input', { name: 'user', autocomplete: 'username', required: true });
      const password = el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
      const form = el('form', { class: 'login card' },
        el('h2', {}, t('signIn')),
        el('label', {}, t('user'), user),
        el('label', {}, t('password'), password),
        el('button', { type: 'submit', class: 'primary' }, t('signIn')),
        devices ? el('button', { type: 'button', class: 'link', id: 'pair-instead', onclick: showPairing }, t('pairInstead')) : null,
        error);
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          const body = { hall, user: user.value.trim(), password: password.value };
          if (devices) body.device_name = document.title.slice(0, 64);
          accept(await api('/login', { method: 'POST', body }), error);
        } catch (err) {
          error.textContent = err.status === 401 ? t('wrongLogin') : explain(err);
        }
      });
      overlay.replaceChildren(form);
      user.focus();
    };
    const showPairing = () => {
      stopPairing();
      let stopped = false;
      let timer;
      stopPairing = () => {
        stopped = true;
        clearTimeout(timer);
      };
      const code = el('strong', { id: 'pair-code' }, '…');
      const note = el('span', { class: 'pair-note' }, t('pairHint'));
      const error = el('span', { class: 'error', role: 'alert' });
      overlay.replaceChildren(el('div', { class: 'pairing card' },
        el('span', {}, t('pairCode')), code, note, error,
        window.innerHeight >= 400 ? el('button', { type: 'button', class: 'link', onclick: showForm }, t('signInWithPassword')) : null));
      const ask = async () => {
        try {
          const started = await api(`/halls/${hall}/pairings`, { method: 'POST', body: { name: document.title.slice(0, 64) } });
          code.textContent = `${started.code.slice(0, 3)} ${started.code.slice(3)}`;
          error.textContent = '';
          poll(started.secret);
        } catch (err) {
          error.textContent = explain(err);
          if (!stopped) timer = setTimeout(ask, 15000);
        }
      };
      const poll = (secret) => {
        timer = setTimeout(async () => {
          if (stopped) return;
          try {
            const r = await api(`/pairings/${secret}`);
            if (r.state === 'paired') {
              if (!accept(r.session, error)) ask();
              return;
            }
            poll(secret);
          } catch (err) {
            // Expired (404): a new code. Otherwise keep asking.
            if (err.status === 404) ask();
            else poll(secret);
          }
        }, PAIR_POLL_MS);
      };
      ask();
    };
    document.body.append(overlay);
    if (devices && (window.innerHeight < 400 || params.get('pair') === '1')) showPairing();
    else showForm();
  });
}

/** A short-lived message at the bottom of the page. */
export function toast(text, kind = 'info') {
  const box = document.querySelector('#toasts') || document.body.appendChild(el('div', { id: 'toasts' }));
  const note = el('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  box.append(note);
  while (box.children.length > 4) box.firstChild.remove();
  setTimeout(() => note.remove(), kind === 'error' ? 8000 : 4000);
}

export function minutes(ms) {
  return Math.max(0, Math.round(ms / 60000));
}

/**
 * An estimated wait as the server gives it (`estimated_wait_ms`, with
 * `wait_range` and `no_window_open`), in minutes: "10–15" (the range, half
 * of the waits fall inside it), "12" when the range rounds to one figure,
 * or null when no open window will reach it (say `noWindowOpen` instead).
 */
export function waitRange(x) {
  if (!x || x.no_window_open) return null;
  const r = x.wait_range;
  if (!r) return String(minutes(x.estimated_wait_ms ?? 0));
  const [lo, hi] = [minutes(r.low_ms), minutes(r.high_ms)];
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

/** "预计等候 10–15 分钟", or "暂无窗口办理" when no open window will reach it. */
export function waitText(x) {
  const r = waitRange(x);
  return r === null ? t('noWindowOpen') : `${t('estWait')} ${r} ${t('minutes')}`;
}

/** mm:ss or h:mm:ss since `since` (ms). */
export function elapsed(since, now = Date.now()) {
  const s = Math.max(0, Math.floor((now - since) / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Keeps `#clock` elements showing the time. */
export function startClock() {
  const tick = () => {
    const now = new Date();
    for (const c of document.querySelectorAll('.clock')) {
      c.textContent = now.toLocaleTimeString('zh-CN', { hour12: false });
    }
  };
  tick();
  setInterval(tick, 1000);
}

/** Marks the page live or reconnecting (a discreet corner badge). */
export function showStatus(state) {
  let badge = document.querySelector('#live-status');
  if (!badge) badge = document.body.appendChild(el('div', { id: 'live-status' }));
  badge.className = state;
  badge.textContent = state === 'live' ? '' : t('reconnecting');
}

export { t, applyI18n };
