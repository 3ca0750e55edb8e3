// Two hallcall nodes on one Redis, as a hall runs them behind a load
// balancer: a clerk's console on one node keeps working when the node
// that owns the hall dies. Its 叫号 is answered 503 hall_moving while the
// other node waits out the lease; the page asks again (same key) and the
// call goes through, with no error shown.
//
// Alone: (cd tests/browser && node --test cluster.test.mjs) with
// HALLCALL_BIN pointing at a built hallcall (default target/debug).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HASH, PASSWORD, zoneNearNoon, Hallcall, launchChromium, startRedis } from './harness.mjs';

const CONFIG = `
[[hall]]
id = "moving"
name = "迁移测试大厅"
time_zone = "${zoneNearNoon()}"
window = [{ number = 1, name = "综合受理", serves = ["general"] }]
account = [
  { user = "guide", role = "guide", password = "${HASH}" },
  { user = "w1", role = "window", windows = [1], password = "${HASH}" },
]
[[hall.zone]]
id = "general"
name = "综合服务"
prefix = "A"
service = [{ id = "social", name = "社保医保" }]
`;

let redis;
let owner;
let other;
let browser;

before(async () => {
  redis = await startRedis();
  const node = (id) => new Hallcall(CONFIG, `cluster-${id}`, {
    store: redis.url,
    args: ['--node-id', id, '--pin', 'moving=owner'],
  });
  owner = node('owner');
  other = node('other');
  await owner.start();
  await other.start();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await other?.stop();
  await owner?.kill();
  redis?.stop();
});

async function api(base, path, { token, body } = {}) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method: body ? 'POST' : 'GET',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.ok(res.ok, `${path}: ${JSON.stringify(json)}`);
  return json;
}

test('a console on one node goes on calling when the node that owns the hall dies', async () => {
  // Everything through the node that does not own the hall: passed on.
  const guide = (await api(other.base, '/login', { body: { hall: 'moving', user: 'guide', password: PASSWORD } })).token;
  const first = (await api(other.base, '/halls/moving/tickets', { token: guide, body: { zone: 'general', service: 'social' } })).ticket.number;

  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  page.setDefaultTimeout(15000);
  await page.goto(`${other.base}/console?hall=moving`);
  await page.locator('form.login input[name=user]').fill('w1');
  await page.locator('form.login input[name=password]').fill(PASSWORD);
  await page.locator('form.login input[name=password]').press('Enter');
  await page.locator('.overlay').waitFor({ state: 'detached' });
  await page.locator('[data-action=open]').click();
  await page.locator('#queues', { hasText: first }).waitFor();

  // The owner dies. The next 叫号 meets a hall between nodes for about
  // three seconds (the lease), and goes through once the other has it.
  await owner.kill();
  const t0 = Date.now();
  await page.locator('[data-action=call-next]').click();
  await page.locator('#current', { hasText: first }).waitFor();
  const took = Date.now() - t0;
  assert.equal(await page.locator('.toast.error').count(), 0, 'an error was shown to the clerk');
  console.log(`# the call went through ${took} ms after the owner died`);
  const hall = await api(other.base, '/halls/moving', { token: guide });
  assert.equal(hall.windows[0].current, first);
});
