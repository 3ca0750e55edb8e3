// A live subscription that survives flaky networks and server restarts:
// it reconnects with backoff, resumes from the last sequence number it
// saw (docs/protocol.md), and checks the connection with its own pings
// (browsers hide WebSocket pings from pages).

// Every 15 s; `?ping_every=N` in the page's address pings every N seconds
// instead (the tests use it to see pongs come and go without waiting).
const pingEvery = Number(new URLSearchParams(location.search).get('ping_every'));
const PING_EVERY = pingEvery > 0 ? pingEvery * 1000 : 15000;
const PONG_WITHIN = 10000;

/** A `pong` answering our ping: the server sends it as JSON even on an
 * LED connection, whose lines are plain text and never JSON. */
function isPong(text) {
  if (!text.startsWith('{')) return false;
  try {
    return JSON.parse(text).type === 'pong';
  } catch {
    return false;
  }
}

/**
 * Opens `/api/v1/halls/{hall}/live` (or a ticket's live URL) and calls
 * `onMessage` with each message (JSON, or text for the LED format),
 * `resumed` included (the catch-up deltas follow it).
 * `onStatus('live' | 'reconnecting')`; `onGone(status)` when the token or
 * the hall is refused (the page should sign in again). Returns { close }.
 */
export function live({ path, token, query = {}, format = 'json', onMessage, onStatus = () => {}, onGone = () => {} }) {
  // A sign-in token never goes in an address (proxies log addresses): each
  // connection is opened with a pass made from it, good for a minute.
  let pass = null;
  let seq = null;
  // The incarnation of the hall's log that `seq` counts in, once a server
  // has named one: sent back with `since` so a server whose log was
  // replaced answers with a snapshot. Never sent before a server gave it
  // (a server that does not know the parameter refuses it).
  let epoch = null;
  let ws = null;
  let delay = 500;
  let closed = false;
  let pingTimer = null;
  let pongTimer = null;

  function url() {
    const q = new URLSearchParams({ ...query, format });
    if (pass) q.set('pass', pass);
    if (seq !== null && format === 'json') {
      q.set('since', String(seq));
      if (epoch !== null) q.set('epoch', epoch);
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}${path}?${q}`;
  }

  function schedule() {
    if (closed) return;
    onStatus('reconnecting');
    const wait = delay + Math.random() * delay * 0.3;
    delay = Math.min(delay * 2, 10000);
    setTimeout(open, wait);
  }

  async function gone() {
    // A refused upgrade shows as a close: ask the server why, with the
    // same query.
    try {
      const res = await fetch(url().replace(/^ws/, 'http'));
      if (res.status === 401 || res.status === 404) {
        closed = true;
        onGone(res.status);
        return;
      }
      // A server that does not take our resume parameters (one rolled back
      // to a version without `epoch`): start afresh, a snapshot loses no call.
      const code = res.status === 400 ? (await res.json().catch(() => null))?.error?.code : null;
      if (code === 'bad_query' || code === 'bad_epoch') {
        if (epoch !== null) epoch = null;
        else seq = null;
      }
    } catch { /* the server is down: keep trying */ }
    schedule();
  }

  /** A fresh pass, or false once the sign-in is refused. */
  async function fetchPass() {
    if (!token) return true;
    const res = await fetch(path.replace(/\/live$/, '/passes'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.status === 401 || res.status === 404) {
      closed = true;
      onGone(res.status);
      return false;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    pass = (await res.json()).pass;
    return true;
  }

  async function open() {
    if (closed) return;
    try {
      if (!(await fetchPass())) return;
    } catch {
      // The server is down or busy: keep trying.
      schedule();
      return;
    }
    if (closed) return;
    let opened = false;
    ws = new WebSocket(url());
    ws.onopen = () => {
      opened = true;
      delay = 500;
      onStatus('live');
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send('{"type":"ping"}');
        // Counted from the first ping not answered: later pings (sent more
        // often than PONG_WITHIN with ?ping_every) must not push it back.
        pongTimer ??= setTimeout(() => ws.close(), PONG_WITHIN);
      }, PING_EVERY);
    };
    ws.onmessage = (e) => {
      clearTimeout(pongTimer);
      pongTimer = null;
      if (format !== 'json') {
        // The pong kept the connection checked; it is not a line to show.
        if (!isPong(e.data)) onMessage(e.data);
        return;
      }
      const m = JSON.parse(e.data);
      if (m.type === 'pong') return;
      if ((m.type === 'snapshot' || m.type === 'resumed') && typeof m.epoch === 'string') epoch = m.epoch;
      // A snapshot from a server that names no epoch: it would refuse one.
      else if (m.type === 'snapshot') epoch = null;
      // `resumed` names the server's newest sequence number, but the deltas
      // up to it are the ones that follow: they must not look seen. Pages
      // still get it (the hall display holds its announcements until the
      // catch-up is over).
      if (m.type === 'resumed') {
        onMessage(m);
        return;
      }
      if (m.type === 'delta' && seq !== null && m.seq <= seq) return;
      if (typeof m.seq === 'number') seq = m.seq;
      onMessage(m);
    };
    ws.onclose = (e) => {
      clearInterval(pingTimer);
      clearTimeout(pongTimer);
      pongTimer = null;
      if (closed) return;
      if (e.code === 4401) {
        // This device was signed out: sign in again, do not reconnect.
        closed = true;
        onGone(401);
      } else if (e.code === 1008) {
        closed = true;
        onGone(404);
      } else if (!opened) {
        gone();
      } else {
        schedule();
      }
    };
    ws.onerror = () => ws.close();
  }

  open();
  return {
    close() {
      closed = true;
      ws?.close();
    },
    get seq() {
      return seq;
    },
  };
}
