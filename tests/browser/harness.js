// Test harness: a throw-away Monban (with its own config dir and SQLite database), the demo
// portal registered as its client, and headless Chromium. Used by the *.test.js files.
//
// Binaries come from ${MONBAN_BIN_DIR:-<repo>/target/debug}; build them first with
//   cargo build -p monban-server -p monban-portal-demo

import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import {
  BIN_DIR, Child, REPO, STARTUP_TIMEOUT_MS, binary as builtBinary, childEnv, freePort, membersCsv, toml, waitForHttp,
} from '../support/processes.mjs';

export { BIN_DIR, REPO, freePort };
const binary = (name) => builtBinary(name, 'cargo build -p monban-server -p monban-portal-demo');

export const SCREENSHOTS = join(REPO, 'artifacts', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const PORTAL_CLIENT_SECRET = 'demo-portal-secret';

/** The demo members every test file starts with. */
export const MEMBERS = [
  { userId: 'demo0001', password: 'Demo-pass1', displayName: '健保 太郎', birthdate: '1979-08-22', email: 'taro@demo.example' },
  { userId: 'demo0002', password: 'Demo-pass2', displayName: '健保 花子', birthdate: '1982-03-14', email: 'hanako@demo.example' },
];

function writeConfig(dir, monbanPort, portalPort, { loginSeconds = 1800 } = {}) {
  const portal = `http://127.0.0.1:${portalPort}`;
  writeFileSync(join(dir, 'monban.toml'), `# Written by tests/browser/harness.js
listen = ${toml(`127.0.0.1:${monbanPort}`)}
public_url = ${toml(`http://127.0.0.1:${monbanPort}`)}
database_url = ${toml(`sqlite://${join(dir, 'monban.db')}`)}
themes_dir = ${toml(join(REPO, 'themes'))}

[encryption_key]
file = ${toml(join(dir, 'encryption.key'))}
create_if_missing = true

[password_hashing]
# Cheap on purpose: these tests are about pages, not about hashing cost.
memory_kib = 8192
iterations = 1
parallelism = 1
`);
  mkdirSync(join(dir, 'realms'));
  writeFileSync(join(dir, 'realms', 'demo.toml'), `# Written by tests/browser/harness.js, after config/realms/demo.toml
name = "demo"
display_title = "デモ健保加入者ページ"
short_name = "デモ健保"
theme = "default"
default_locale = "ja"

[tokens]
access_token_seconds = 300
authorization_code_seconds = 60
login_seconds = ${loginSeconds}
sso_idle_seconds = 1800
sso_max_seconds = 36000
sso_idle_remember_me_seconds = 604800
sso_max_remember_me_seconds = 2592000

[password_policy]
min_length = 8
max_length = 64
require_letter = true
require_digit = true
not_user_id = true

[user_id_policy]
min_length = 8
max_length = 13
allowed_symbols = "-_.@"

[lockout]
enabled = true
max_failures = 5
wait_increment_seconds = 60
max_wait_seconds = 900
failure_reset_seconds = 43200
permanent_lockout = false

[[clients]]
client_id = "portal"
name = "デモ健保ポータル"
secret = ${toml(PORTAL_CLIENT_SECRET)}
redirect_uris = [${toml(`${portal}/callback`)}]
post_logout_redirect_uris = [${toml(`${portal}/`)}]
base_url = ${toml(`${portal}/`)}
id_token_signed_response_alg = "RS256"
`);
}

/**
 * Starts Monban, the portal and Chromium. Call `stop()` in `after` whatever happened; it prints
 * the servers' output when `failed` is true (or when starting failed).
 */
export async function startStack({ members = MEMBERS, loginSeconds } = {}) {
  const stack = {
    dir: mkdtempSync(join(tmpdir(), 'monban-browser-')),
    children: [],
    browser: null,
    failed: false,
    /** Prints what the servers wrote (call on failure). */
    report() {
      for (const child of this.children) {
        process.stderr.write(`\n----- ${child.name} output -----\n${child.output || '(nothing)'}\n----- end of ${child.name} -----\n`);
      }
    },
    async stop() {
      await this.browser?.close().catch(() => {});
      await Promise.all(this.children.map((child) => child.stop()));
      if (this.failed) this.report();
      rmSync(this.dir, { recursive: true, force: true });
    },
  };
  try {
    const monban = binary('monban');
    const portal = binary('monban-portal-demo');
    const [monbanPort, portalPort] = [await freePort(), await freePort()];
    stack.monbanUrl = `http://127.0.0.1:${monbanPort}`;
    stack.portalUrl = `http://127.0.0.1:${portalPort}`;
    stack.issuer = `${stack.monbanUrl}/realms/demo`;
    writeConfig(stack.dir, monbanPort, portalPort, { loginSeconds });

    const csv = join(stack.dir, 'members.csv');
    writeFileSync(csv, membersCsv(members));
    try {
      await promisify(execFile)(monban, ['user', 'import', '--config-dir', stack.dir, '--realm', 'demo', csv],
        { env: childEnv({}) });
    } catch (error) {
      throw new Error(`monban user import failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    }

    const server = new Child('monban', monban, ['serve', '--config-dir', stack.dir], {
      MONBAN_LISTEN: `127.0.0.1:${monbanPort}`,
      MONBAN_PUBLIC_URL: stack.monbanUrl,
    });
    stack.children.push(server);
    await waitForHttp(`${stack.monbanUrl}/health`, server);

    const rp = new Child('monban-portal-demo', portal, [], {
      PORTAL_LISTEN: `127.0.0.1:${portalPort}`,
      PORTAL_PUBLIC_URL: stack.portalUrl,
      PORTAL_ISSUER: stack.issuer,
      PORTAL_CLIENT_ID: 'portal',
      PORTAL_CLIENT_SECRET,
    });
    stack.children.push(rp);
    await waitForHttp(`${stack.portalUrl}/`, rp);

    stack.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: STARTUP_TIMEOUT_MS });
  } catch (error) {
    stack.failed = true;
    await stack.stop();
    throw error;
  }
  return stack;
}

/** A fresh browser context (no cookies) in Japanese, as a member's PC would be. */
export async function newContext(stack, options = {}) {
  const context = await stack.browser.newContext({
    locale: 'ja-JP',
    viewport: { width: 1280, height: 800 },
    ...options,
  });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  return context;
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
