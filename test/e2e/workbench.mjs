// Shared helpers for the Playwright tests against code-server (see scripts/run-vscode-tests.mjs).
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const env = {
  url: required('LWB_URL'),
  workspace: required('LWB_WORKSPACE'),
  results: required('LWB_RESULTS'),
  userData: required('LWB_USER_DATA'),
  artifacts: process.env.LWB_ARTIFACTS ?? 'artifacts',
};

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through 'npm run test:vscode'`);
  return v;
}

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

/** Opens VS Code in headless Chromium; `folder` undefined opens the sample workspace, null an empty window. */
export async function openWorkbench(folder = env.workspace) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  const target = folder === null ? `${env.url}/?ew=true` : `${env.url}/?folder=${encodeURIComponent(folder)}`;
  await page.goto(target);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  // the status bar appears once the workbench is restored
  await page.locator('.statusbar').waitFor({ timeout: 60_000 });
  // The in-host suite runs in the first window's extension host and edits the workspace; UI
  // tests start only after it has finished (immediately, once its results exist).
  if (folder !== null) await waitFor(() => existsSync(env.results), 300_000, 'the in-host suite to finish');
  return { browser, page, consoleErrors };
}

export async function screenshot(page, name) {
  mkdirSync(env.artifacts, { recursive: true });
  const file = join(env.artifacts, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * Clicks our activity-bar entry and returns the side bar showing our container. (With one view in
 * the container VS Code hides the view's own header and titles the side bar "LORA WORKBENCH: DATASETS";
 * with more views each has its own pane header.)
 */
export async function openLoraContainer(page) {
  const item = page.locator('.activitybar .action-item [aria-label^="LoRA Workbench"]').first();
  await item.waitFor({ timeout: 30_000 });
  const sidebar = page.locator('.part.sidebar');
  const ours = sidebar.locator('[id="workbench.view.extension.loraWorkbench"]');
  if (!(await ours.isVisible().catch(() => false))) await item.click();
  await ours.waitFor({ state: 'visible', timeout: 30_000 });
  // one view: the side bar title names it; several views (Datasets, Buckets…): each has a pane header
  const title = sidebar.locator('.composite.title .title-label, .pane-header .title');
  await title.filter({ hasText: /datasets/i }).first().waitFor({ timeout: 30_000 });
  return ours;
}

/**
 * Runs a command from the command palette by its full title. Retries when the palette does not
 * open (a key press can go to a webview that is still loading and be lost) or the list is slow:
 * the second time the focus is first taken to the workbench itself (the status bar), the third
 * time the other key (Ctrl+Shift+P) is used.
 */
export async function runCommand(page, title) {
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Escape');
    if (attempt === 1) await page.locator('.monaco-workbench .part.editor').click({ position: { x: 300, y: 300 } }).catch(() => {});
    else {
      const bar = page.locator('.monaco-workbench .part.statusbar');
      const box = await bar.boundingBox().catch(() => null);
      if (box) await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    }
    await page.keyboard.press(attempt >= 3 ? 'Control+Shift+P' : 'F1');
    const input = page.locator('.quick-input-widget input.input');
    try {
      await input.waitFor({ timeout: 15_000 });
      await input.fill(`>${title}`);
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
      await row.waitFor({ timeout: 20_000 });
      await row.click();
      return;
    } catch (e) {
      await screenshot(page, `command-palette-attempt-${attempt}`);
      if (attempt >= 3) throw e;
    }
  }
}

/** The extension host logs (exthost.log, or remoteexthost.log in code-server), oldest first. */
export function extensionHostLogs() {
  const found = [];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (/^(remote)?exthost\.log$/.test(d.name)) found.push(p);
    }
  };
  walk(join(env.userData, 'logs'));
  return found.sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
}

/** Waits for the results of the in-host suite (run by the first window's extension host) and reads them. */
export async function inHostResults() {
  await waitFor(() => existsSync(env.results), 300_000, 'the in-host suite results');
  return JSON.parse(readFileSync(env.results, 'utf8'));
}

/**
 * Opens a first window (when only one test file runs, it is the one whose extension host runs the
 * in-host suite), waits for the suite's results, closes the window and returns them; a suite that
 * did not load fails the test.
 */
export async function inHostResultsFromFirstWindow() {
  const first = await openWorkbench();
  let r;
  try {
    r = await inHostResults();
  } finally {
    await first.browser.close();
  }
  if (r.loadError) throw new Error(`the in-host suite did not load: ${r.loadError}`);
  return r;
}

/**
 * Reports the in-host tests whose title starts with `prefix` and returns their failures (to check at
 * the end); fewer than `atLeast` such tests is a failure too.
 */
export function ownInHostFailures(t, r, prefix, atLeast = 1) {
  const ours = r.tests.filter((x) => x.fullTitle.startsWith(prefix));
  for (const x of ours) t.diagnostic(`in-host ${x.state}: ${x.fullTitle}${x.error ? `: ${x.error}` : ''}`);
  const failures = ours.filter((x) => x.state !== 'passed').map((x) => `${x.fullTitle}: ${x.error}`);
  if (ours.length < atLeast) failures.push(`only ${ours.length} in-host tests starting with "${prefix}" ran (expected at least ${atLeast})`);
  return failures;
}

export async function waitFor(pred, ms, what) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await pred();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** Splits a VS Code log into entries (a timestamped line and the lines that continue it). */
export function logEntries(text) {
  const entries = [];
  for (const line of text.split('\n')) {
    if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(line) || entries.length === 0) entries.push(line);
    else entries[entries.length - 1] += `\n${line}`;
  }
  return entries;
}

/** Clicks a tree row after moving the mouse away, so a tooltip of another row cannot cover it. */
export async function clickRow(page, row) {
  await page.mouse.move(1, 1);
  await page.keyboard.press('Escape');
  await row.click({ timeout: 15_000 });
}

/**
 * Does `act` until `expected` shows, a few times. A tree row is re-rendered while its view
 * refreshes (the index fills in sizes and tags after the first paint), and a hover or click made
 * on it then is lost; so the action is made again.
 */
async function actUntil(page, act, expected, { attempts = 3, timeout = 8_000, failureShot } = {}) {
  for (let attempt = 1; ; attempt++) {
    await act();
    try {
      await expected.waitFor({ timeout });
      return expected;
    } catch (e) {
      if (failureShot) await screenshot(page, failureShot);
      if (attempt >= attempts) throw e;
    }
  }
}

/** Hovers `target` (the mouse leaving first) until the tooltip `tooltip` shows. */
export function hoverUntil(page, target, tooltip, options = {}) {
  const hover = async () => {
    await page.mouse.move(1, 1);
    await page.waitForTimeout(300);
    await target.hover({ timeout: 15_000 });
  };
  return actUntil(page, hover, tooltip, { attempts: 4, ...options });
}

/** Clicks a tree row until `expected` shows (a tab, an editor); opening the same thing twice is harmless. */
export function clickRowUntil(page, row, expected, options = {}) {
  return actUntil(page, () => clickRow(page, row), expected, options);
}

/**
 * Expands a tree row until `child` shows, clicking it only while it is collapsed (a click on an
 * expanded row would collapse it).
 */
export function expandRow(page, row, child, options = {}) {
  const expand = async () => {
    if ((await row.getAttribute('aria-expanded', { timeout: 5_000 }).catch(() => null)) !== 'true') await clickRow(page, row);
  };
  return actUntil(page, expand, child, options);
}
