// What every browser test file shares: where things are, the sample
// password, a hallcall of its own on a free port, and Chromium.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, createConnection } from 'node:net';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.HALLCALL_BIN || join(ROOT, 'target/debug/hallcall');
// Screenshots of every page; UPDATE_SCREENSHOTS=1 writes them to
// docs/screenshots (the README shows those), otherwise to target/.
export const SHOTS = join(ROOT, process.env.UPDATE_SCREENSHOTS ? 'docs/screenshots' : 'target/screenshots');
/** The sample accounts' password, and its hash for test configurations. */
export const PASSWORD = 'hallcall-demo';
export const HASH = '$argon2id$v=19$m=19456,t=2,p=1$z5rI4j4g1EmAgp3zGxcTJw$GbaB6JrEHunOwNudcCKdXVKdTLHBAufqbhikHa+qwQw';

/** A time zone where it is now about noon, so no test meets a day rollover. */
export function zoneNearNoon() {
  const east = ((12 - new Date().getUTCHours()) + 24) % 24;
  const e = east > 14 ? east - 24 : east;
  return e === 0 ? 'Etc/UTC' : e > 0 ? `Etc/GMT-${e}` : `Etc/GMT+${-e}`;
}

export function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/**
 * A hallcall of the test file's own: `config` in a temporary directory,
 * the embedded store beside it, on a free port. It inherits the
 * environment, so HALLCALL_PAGES_DIR (a debug build serving the pages from
 * disk) passes on. Stopped and started again on the same port and store.
 */
export class Hallcall {
  /** `store` (default: an embedded store beside the config) and more
   * command-line `args` (a node's name and pins, say). */
  constructor(config, name, { store, args = [] } = {}) {
    this.store = store;
    this.args = args;
    this.dir = mkdtempSync(join(tmpdir(), `hallcall-${name}-`));
    this.configPath = join(this.dir, 'hall.toml');
    writeFileSync(this.configPath, config);
    mkdirSync(SHOTS, { recursive: true });
    this.process = null;
  }

  async start({ within = 30000 } = {}) {
    this.port ??= await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    // --demo: the test halls use the sample password.
    this.process = spawn(BIN, ['--demo', '--config', this.configPath, '--listen', `127.0.0.1:${this.port}`,
      '--store', this.store ?? `file:${join(this.dir, 'data')}`, '--sounds', join(ROOT, 'sounds'), ...this.args],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } });
    const deadline = Date.now() + within;
    for (;;) {
      try {
        if ((await fetch(`${this.base}/readyz`)).ok) return;
      } catch { /* not up yet */ }
      assert.ok(Date.now() < deadline, `the server did not start within ${within / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL: the machine dies. */
  async kill() {
    const p = this.process;
    // Ended already (a signal leaves exitCode null): nothing to wait for.
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async stop() {
    const p = this.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
}

/** A redis-server of the test file's own on a free port, keeping nothing
 * on disk; `stop()` ends it. */
export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hallcall-redis-'));
  const process_ = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const deadline = Date.now() + 10000;
  for (;;) {
    const up = await new Promise((ok) => {
      const s = createConnection(port, '127.0.0.1', () => { s.end(); ok(true); });
      s.on('error', () => ok(false));
    });
    if (up) break;
    assert.ok(Date.now() < deadline, 'redis-server did not start within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}/`,
    stop: () => process_.kill('SIGKILL'),
  };
}

/** Debian's Chromium, headless, with no calls to the outside. */
export function launchChromium(extra = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extra],
  });
}

/** Signs in with the sample password through the page's own form. */
export async function signIn(page, user) {
  await page.locator('form.login input[name=user]').fill(user);
  await page.locator('form.login input[name=password]').fill(PASSWORD);
  // Enter submits even where the form is taller than the screen.
  await page.locator('form.login input[name=password]').press('Enter');
  await page.locator('.overlay').waitFor({ state: 'detached' });
}

/** No page logged an error (pages record theirs in `page.errors`). */
export function noErrors(...pages) {
  for (const p of pages) assert.deepEqual(p.errors, [], `console errors on ${p.url()}`);
}
