// The web dashboard in headless Debian Chromium (/usr/bin/chromium, never a downloaded
// browser), driven by playwright-core; run by web_dashboard.py, which starts gpuplexd and
// passes what the page must show in $WEB_TEST (JSON):
//   url, admin_token, tenant_token, tenant, gpus (how many), mig_gpu, mig_profile,
//   admin_sees [lease ids], tenant_sees [lease ids], busy (the lease with a running
//   workload), release (the lease to release with the button), screenshot (a path).
// Checks: each GPU with its charts, every lease for the admin, the MIG layout's slots, a
// release through the button, a tenant's token showing its own leases only (no release
// button), an API error shown on the page, no request leaving loopback, no console error.
// Prints "ok" and exits 0, or prints why and exits 1.
import { chromium } from 'playwright-core';

const T = JSON.parse(process.env.WEB_TEST);
const STEP_MS = 60000; // each wait: Chromium on two busy cores is slow, never stuck
const log = (...a) => console.log('web_dashboard:', ...a);
let browser;

function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exitCode = 1;
  throw new Error(msg);
}

async function main() {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: 120000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--disable-dev-shm-usage',
      // no internet for the page: every name but loopback fails to resolve
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1'],
  });
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);

  const outside = [];
  const consoleErrors = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['http:', 'https:'].includes(u.protocol) || !['127.0.0.1', 'localhost'].includes(u.hostname))
      outside.push(r.url());
  });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push('page error: ' + e.message));

  // --- the admin -------------------------------------------------------------------------
  await page.goto(T.url, { waitUntil: 'load' });
  await page.locator('#token').waitFor({ state: 'visible' });
  await page.fill('#token', T.admin_token);
  await page.click('#login-form button[type=submit]');
  await page.locator('#who').filter({ hasText: '(admin)' }).waitFor();
  log('admin logged in');

  await page.waitForFunction((n) => document.querySelectorAll('.gpu').length === n &&
    document.querySelectorAll('.gpu canvas').length >= 2 * n, T.gpus);
  for (const id of T.admin_sees)
    await page.locator(`#leases tr[data-lease="${id}"]`).waitFor();
  const slot = page.locator(`.gpu[data-gpu="${T.mig_gpu}"] .slot.leased[data-profile="${T.mig_profile}"]`);
  await slot.waitFor();
  const slotText = await slot.innerText();
  if (!slotText.includes(T.mig_lease))
    fail(`the MIG slot names its lease ${T.mig_lease}: ${slotText}`);
  const slots = await page.locator(`.gpu[data-gpu="${T.mig_gpu}"] .slots`).getAttribute('data-slots');
  if (slots !== '8') fail(`an H100's MIG layout has 8 slots, the page drew ${slots}`);
  // the workload's lease: its memory, its processes and a GPU-time share once two polls passed
  const busy = page.locator(`#leases tr[data-lease="${T.busy}"]`);
  await page.waitForFunction((id) => {
    const tds = document.querySelectorAll(`#leases tr[data-lease="${id}"] td`);
    return tds.length > 6 && /%$/.test(tds[4].textContent) && parseFloat(tds[4].textContent) > 20 &&
      tds[6].textContent !== '0' &&
      /^1\.00 GiB/.test(tds[3].textContent);
  }, T.busy);
  log('busy lease:', (await busy.innerText()).replace(/\s+/g, ' '));
  // the mig lease: no utilization from the driver for a MIG instance: '–', never 100 %
  await page.waitForFunction((id) => {
    const tds = document.querySelectorAll(`#leases tr[data-lease="${id}"] td`);
    return tds.length > 6 && tds[4].textContent === '–' && /\/ 39\.5 GiB$/.test(tds[3].textContent);
  }, T.mig_lease);
  log('mig lease:', (await page.locator(`#leases tr[data-lease="${T.mig_lease}"]`).innerText())
    .replace(/\s+/g, ' '));
  await page.locator('#usage tbody tr[data-tenant]').first().waitFor();
  for (const g of await page.locator('.gpu .facts').allInnerTexts()) log('gpu:', g);
  // the GPU in MIG mode: the driver has no utilization for it (NVML NOT_SUPPORTED): '–'
  const migFacts = await page.locator(`.gpu[data-gpu="${T.mig_gpu}"] .facts`).innerText();
  if (!migFacts.startsWith('util – ·')) fail(`the MIG-mode GPU's utilization: ${migFacts}`);
  await page.waitForTimeout(8000); // some history in the charts (the screenshot is in docs/)
  await page.screenshot({ path: T.screenshot, fullPage: true });
  log('screenshot', T.screenshot);

  // release with the button: one click arms it, the second releases
  const btn = page.locator(`button.release[data-lease="${T.release}"]`);
  await btn.click();
  await page.locator(`button.release.armed[data-lease="${T.release}"]`).click();
  await page.locator(`#leases tr[data-lease="${T.release}"]`).waitFor({ state: 'detached' });
  log('released', T.release);

  // --- a tenant --------------------------------------------------------------------------
  await page.click('#logout');
  await page.locator('#token').waitFor({ state: 'visible' });
  await page.fill('#token', T.tenant_token);
  await page.click('#login-form button[type=submit]');
  await page.locator('#who').filter({ hasText: `${T.tenant} (tenant)` }).waitFor();
  for (const id of T.tenant_sees)
    await page.locator(`#leases tr[data-lease="${id}"]`).waitFor();
  await page.waitForFunction((n) => document.querySelectorAll('.gpu').length === n, T.gpus);
  await page.waitForTimeout(2500); // a few more polls: nothing else may appear
  const rows = await page.locator('#leases tr[data-lease]').evaluateAll(
    (trs) => trs.map((tr) => tr.getAttribute('data-lease')));
  if (JSON.stringify(rows.sort()) !== JSON.stringify([...T.tenant_sees].sort()))
    fail(`tenant ${T.tenant} sees leases ${rows}, expected ${T.tenant_sees}`);
  const tenants = await page.locator('#leases .tenant').evaluateAll(
    (ds) => ds.map((d) => d.getAttribute('data-tenant')));
  if (tenants.join() !== T.tenant) fail(`tenant groups shown to ${T.tenant}: ${tenants}`);
  if (await page.locator('button.release').count())
    fail('a tenant token got release buttons');
  const usage = await page.locator('#usage tbody tr[data-tenant]').evaluateAll(
    (trs) => trs.map((tr) => tr.getAttribute('data-tenant')));
  if (usage.join() !== T.tenant) fail(`metering rows shown to ${T.tenant}: ${usage}`);
  const mig = await page.locator(`.gpu[data-gpu="${T.mig_gpu}"] .slot.leased`).allInnerTexts();
  if (mig.some((t) => t.includes(T.mig_lease)))
    fail(`a tenant sees another tenant's MIG lease id: ${mig}`);
  log('tenant sees', rows);

  if (consoleErrors.length) fail('console errors: ' + consoleErrors.join(' | '));

  // --- an API error on the page: a wrong token -------------------------------------------
  await page.click('#logout');
  await page.fill('#token', 'gpx_' + '0'.repeat(64));
  await page.click('#login-form button[type=submit]');
  await page.locator('#error').filter({ hasText: 'UNAUTH' }).waitFor();
  log('error shown:', await page.locator('#error').innerText());
  // ... and nothing of the node: no GPU, no lease, no metering row, the dashboard hidden
  await page.waitForTimeout(1500);
  const shown = await page.evaluate(() => document.querySelectorAll(
    '.gpu, #leases tr[data-lease], #usage tbody tr[data-tenant]').length);
  if (shown || !(await page.locator('#dash').isHidden()) || (await page.locator('#who').innerText()))
    fail(`a wrong token sees the node's data (${shown} elements)`);
  // the 401 itself is the one console message Chromium writes
  const other = consoleErrors.filter((m) => !/status of 401/.test(m));
  if (other.length) fail('console errors: ' + other.join(' | '));

  if (outside.length) fail('requests outside loopback: ' + outside.join(', '));
  console.log('ok');
}

const guard = setTimeout(() => {
  console.error('FAIL: web_dashboard.mjs timed out');
  process.exit(1);
}, 280000);
try {
  await main();
} catch (e) {
  if (!process.exitCode) console.error('FAIL: ' + (e.stack || e));
  process.exitCode = 1;
} finally {
  clearTimeout(guard);
  if (browser) await browser.close().catch(() => {});
}
