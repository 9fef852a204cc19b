// Test harness: a throw-away Monban (with its own config dir and SQLite database), the demo
// portal registered as its client, and headless Chromium. Used by the *.test.js files.
//
// Binaries come from ${MONBAN_BIN_DIR:-<repo>/target/debug}; build them first with
//   cargo build -p monban-server -p monban-portal-demo

import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN_DIR = process.env.MONBAN_BIN_DIR ? resolve(process.env.MONBAN_BIN_DIR) : join(REPO, 'target', 'debug');
export const SCREENSHOTS = join(REPO, 'artifacts', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const STARTUP_TIMEOUT_MS = 30_000;

export const PORTAL_CLIENT_SECRET = 'demo-portal-secret';

/** The demo members every test file starts with. */
export const MEMBERS = [
  { userId: 'demo0001', password: 'Demo-pass1', displayName: '健保 太郎', birthdate: '1979-08-22', email: 'taro@demo.example' },
  { userId: 'demo0002', password: 'Demo-pass2', displayName: '健保 花子', birthdate: '1982-03-14', email: 'hanako@demo.example' },
];

function binary(name) {
  const path = join(BIN_DIR, name);
  if (!existsSync(path)) {
    throw new Error(
      `${path} does not exist. Build the binaries first:\n` +
      `  cargo build -p monban-server -p monban-portal-demo\n` +
      `(or point MONBAN_BIN_DIR at the directory that holds monban and monban-portal-demo)`,
    );
  }
  return path;
}

/** A port nobody listens on right now (listen on port 0, read it, close). */
export async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

function toml(value) {
  return JSON.stringify(value); // a JSON string is a valid TOML basic string
}

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

function membersCsv(members) {
  return 'user_id,password,display_name,birthdate,email\n' +
    members.map((m) => [m.userId, m.password, m.displayName, m.birthdate, m.email].join(',')).join('\n') + '\n';
}

/** The environment for a child: ours without MONBAN_* / PORTAL_* settings that would override the test's. */
function childEnv(extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(MONBAN|PORTAL)_/.test(key)));
  return { ...env, NO_COLOR: "1", ...extra };
}

/** A child process whose stdout and stderr are kept for the failure report. */
class Child {
  constructor(name, command, args, env) {
    this.name = name;
    this.output = '';
    this.exited = null;
    this.process = spawn(command, args, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => { this.output += chunk.toString(); };
    this.process.stdout.on('data', keep);
    this.process.stderr.on('data', keep);
    this.exitPromise = new Promise((ok) => {
      this.process.on('exit', (code, signal) => { this.exited = { code, signal }; ok(); });
      this.process.on('error', (error) => { this.output += `\n[spawn error] ${error}\n`; this.exited = { error }; ok(); });
    });
  }

  async stop() {
    if (this.exited) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => { if (!this.exited) this.process.kill('SIGKILL'); }, 3_000);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

async function waitForHttp(url, child) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exited) throw new Error(`${child.name} exited (${JSON.stringify(child.exited)}) before ${url} answered`);
    try {
      const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(2_000) });
      if (response.status < 500) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = String(error.cause?.code ?? error.message);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`${url} did not answer within ${STARTUP_TIMEOUT_MS / 1000}s (last: ${last})`);
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
