// Test harness: a throw-away Monban (with its own config dir and SQLite database), the demo
// portal registered as its client, and headless Chromium. Used by the *.test.js files.
// Either the `demo` realm written here, or one of the example realms of config/ (with its
// terms and members, and an SMTP sink that catches the mails).
//
// Binaries come from ${MONBAN_BIN_DIR:-<repo>/target/debug}; build them first with
//   cargo build -p monban-server -p monban-portal-demo -p monban-smtp-sink

import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import {
  BIN_DIR, Child, REPO, STARTUP_TIMEOUT_MS, binary as builtBinary, childEnv, freePort, membersCsv, toml, waitForHttp,
  waitForOutput,
} from '../support/processes.mjs';

export { BIN_DIR, REPO, freePort };
const binary = (name) => builtBinary(name, 'cargo build -p monban-server -p monban-portal-demo -p monban-smtp-sink');

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

/**
 * The example realms of config/realms (SPEC §3's two first-login orders), with the address of
 * their portal in the file (replaced by the test portal's).
 */
export const EXAMPLE_REALMS = {
  daiwakenpo: { portalUrl: 'http://localhost:8082' },
  ajinomotokenpo: { portalUrl: 'http://localhost:8083' },
};

/** The members of config/members/<realm>.csv (a plain CSV: no quoted fields). */
export function exampleMembers(realm) {
  const [header, ...rows] = readFileSync(join(REPO, 'config', 'members', `${realm}.csv`), 'utf8').trim().split('\n');
  assertHeader(header);
  return rows.map((row) => {
    const [userId, password, displayName, birthdate, email] = row.split(',');
    return { userId, password, displayName, birthdate, email };
  });
}

function assertHeader(header) {
  if (header.trim() !== 'user_id,password,display_name,birthdate,email') {
    throw new Error(`unexpected members CSV header: ${header}`);
  }
}

function writeServerConfig(dir, monbanPort, { smtpPort } = {}) {
  writeFileSync(join(dir, 'monban.toml'), `# Written by tests/browser/harness.js
listen = ${toml(`127.0.0.1:${monbanPort}`)}
public_url = ${toml(`http://localhost:${monbanPort}`)}
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
${smtpPort === undefined ? '' : `
[smtp]
# The monban-smtp-sink started by the harness.
host = "127.0.0.1"
port = ${smtpPort}
security = "none"
from = "monban@example.test"
`}`);
}

function writeDemoRealm(dir, portalPort, { loginSeconds = 1800, extra = '' } = {}) {
  const portal = `http://127.0.0.1:${portalPort}`;
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
${extra}`);
}

/**
 * Copies config/realms/<realm>.toml with the test portal's address in place of the example's,
 * and the terms file it names, to the same relative path.
 */
function copyExampleRealm(dir, realm, portalUrl) {
  const example = EXAMPLE_REALMS[realm];
  if (!example) throw new Error(`${realm} is not one of the example realms: ${Object.keys(EXAMPLE_REALMS).join(', ')}`);
  const original = readFileSync(join(REPO, 'config', 'realms', `${realm}.toml`), 'utf8');
  if (!original.includes(example.portalUrl)) {
    throw new Error(`config/realms/${realm}.toml no longer names the portal ${example.portalUrl}: update EXAMPLE_REALMS`);
  }
  mkdirSync(join(dir, 'realms'));
  writeFileSync(join(dir, 'realms', `${realm}.toml`),
    `# Copied by tests/browser/harness.js from config/realms/${realm}.toml, portal ${portalUrl}\n` +
    original.replaceAll(example.portalUrl, portalUrl));
  mkdirSync(join(dir, 'terms'));
  copyFileSync(join(REPO, 'config', 'terms', `${realm}.txt`), join(dir, 'terms', `${realm}.txt`));
}

/** The name of the sink's n-th mail file (1-based). */
const mailFile = (n) => `${String(n).padStart(4, '0')}.json`;

/**
 * Starts Monban, the portal and Chromium. Call `stop()` in `after` whatever happened; it prints
 * the servers' output when `failed` is true (or when starting failed).
 *
 * Without `realm`: the `demo` realm written here, with `members` and `demoRealmExtra` (TOML
 * tables, e.g. `[flows]`) at its end. With `realm` (a key of EXAMPLE_REALMS): that example
 * realm of config/, its terms and its members (`stack.members`), and an SMTP sink whose mails
 * `stack.nextMail()` returns.
 */
export async function startStack({ members = MEMBERS, loginSeconds, realm, demoRealmExtra } = {}) {
  const stack = {
    dir: mkdtempSync(join(tmpdir(), 'monban-browser-')),
    realm: realm ?? 'demo',
    members: realm ? exampleMembers(realm) : members,
    children: [],
    browser: null,
    failed: false,
    mailDir: null,
    mailsTaken: 0,
    /**
     * The next mail the sink received (waits for it), parsed: `{ mail_from, rcpt_to, subject,
     * text, html }`, with the sink's raw `FROM:<…>` / `TO:<…>` forms.
     */
    async nextMail({ timeoutMs = 10_000 } = {}) {
      if (!this.mailDir) throw new Error('this stack has no SMTP sink (start it with a realm)');
      const path = join(this.mailDir, mailFile(this.mailsTaken + 1));
      const deadline = Date.now() + timeoutMs;
      while (!existsSync(path)) { // the sink renames complete files into place
        if (Date.now() > deadline) {
          throw new Error(`no mail ${mailFile(this.mailsTaken + 1)} in the SMTP sink within ${timeoutMs / 1000}s`);
        }
        await new Promise((ok) => setTimeout(ok, 50));
      }
      this.mailsTaken += 1;
      const mail = JSON.parse(readFileSync(path, 'utf8'));
      if (mail.error) throw new Error(`the SMTP sink could not decode ${path}: ${mail.error}`);
      return mail;
    },
    /** How many mails the sink has written so far (taken or not). */
    mailCount() {
      let count = 0;
      while (existsSync(join(this.mailDir, mailFile(count + 1)))) count += 1;
      return count;
    },
    /**
     * Runs the `monban` CLI on this stack's configuration and database, as the society's admin
     * would (e.g. `'user', 'require-action', '--realm', 'demo', …`); returns its output.
     */
    async monban(...args) {
      try {
        const { stdout } = await promisify(execFile)(binary('monban'), ['--config-dir', this.dir, ...args],
          { env: childEnv({}) });
        return stdout;
      } catch (error) {
        throw new Error(`monban ${args.join(' ')} failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
      }
    },
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
    // localhost, not 127.0.0.1: passkeys are bound to a domain name (WebAuthn refuses IP
    // addresses as relying-party IDs), and http://localhost is a secure context.
    stack.monbanUrl = `http://localhost:${monbanPort}`;
    stack.portalUrl = `http://127.0.0.1:${portalPort}`;
    stack.issuer = `${stack.monbanUrl}/realms/${stack.realm}`;
    let csv;
    let smtpPort;
    if (realm) {
      if (loginSeconds !== undefined || demoRealmExtra !== undefined) {
        throw new Error('loginSeconds and demoRealmExtra are for the demo realm only');
      }
      stack.mailDir = join(stack.dir, 'mail');
      const sink = new Child('monban-smtp-sink', binary('monban-smtp-sink'), ['--dir', stack.mailDir], {});
      stack.children.push(sink);
      smtpPort = Number((await waitForOutput(sink, /listening on 127\.0\.0\.1:(\d+)/))[1]);
      copyExampleRealm(stack.dir, realm, stack.portalUrl);
      csv = join(REPO, 'config', 'members', `${realm}.csv`);
    } else {
      writeDemoRealm(stack.dir, portalPort, { loginSeconds, extra: demoRealmExtra });
      csv = join(stack.dir, 'members.csv');
      writeFileSync(csv, membersCsv(members));
    }
    writeServerConfig(stack.dir, monbanPort, { smtpPort });

    try {
      await promisify(execFile)(monban, ['user', 'import', '--config-dir', stack.dir, '--realm', stack.realm, csv],
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
      PORTAL_CLIENT_SECRET: realm ? `${realm}-portal-secret` : PORTAL_CLIENT_SECRET,
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
