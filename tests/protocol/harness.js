// Test harness of the protocol suite: a throw-away Monban (own config dir, SQLite database,
// realm `proto` with the clients below), a fetch-based "browser" with a cookie jar that logs a
// member in, and openid-client configurations for each client.
//
// The approach follows tests/browser/harness.js (which cannot be imported here: it loads
// playwright-core). The binary comes from ${MONBAN_BIN_DIR:-<repo>/target/debug}; build it first:
//   cargo build -p monban-server

import { execFile } from 'node:child_process';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import * as client from 'openid-client';
import {
  BIN_DIR, Child, REPO, binary as builtBinary, childEnv, freePort, membersCsv, toml, waitForHttp,
} from '../support/processes.mjs';

export { client, BIN_DIR, REPO, freePort };
const binary = (name) => builtBinary(name, 'cargo build -p monban-server');

const REQUEST_TIMEOUT_MS = 10_000;
const TEST_TIMEOUT_MS = 30_000;

export const REALM = 'proto';
/** Registered redirect URIs; nothing listens there, the tests read the redirects themselves. */
export const REDIRECT_URI = 'http://127.0.0.1:9999/cb';
export const POST_LOGOUT_REDIRECT_URI = 'http://127.0.0.1:9999/bye';

export const CLIENTS = {
  rp: { id: 'rp', secret: 'rp-secret-0123456789abcdef', alg: 'RS256' },
  spa: { id: 'spa', secret: null, alg: 'RS256' },
  service: { id: 'service', secret: 'service-secret-0123456789abcdef', alg: 'RS256' },
  'rp-es': { id: 'rp-es', secret: 'rp-es-secret-0123456789abcdef', alg: 'ES256' },
  'rp-ed': { id: 'rp-ed', secret: 'rp-ed-secret-0123456789abcdef', alg: 'EdDSA' },
  // Authenticates with private_key_jwt; its key pair is made per server (see startMonban).
  'rp-jwt': { id: 'rp-jwt', secret: null, alg: 'RS256' },
};

/** Members imported with `monban user import` (temporary ID and password, as a health society provisions them). */
export const MEMBERS = [
  { userId: 'proto0001', password: 'Proto-pass1', displayName: '試験 一郎', birthdate: '1979-08-22', email: 'ichiro@proto.example' },
  { userId: 'proto0002', password: 'Proto-pass2', displayName: '試験 二郎', birthdate: '1982-03-14', email: 'jiro@proto.example' },
  { userId: 'proto0003', password: 'Proto-pass3', displayName: '試験 三郎', birthdate: '1990-01-02', email: 'saburo@proto.example' },
];

/**
 * The realm file; `rpJwtJwks` is the public JWKS of the private_key_jwt client, and
 * `backchannelLogoutUri` (optional) where `rp-es` receives back-channel logout tokens.
 */
export const realmToml = ({ rpJwtJwks, backchannelLogoutUri }) => `# Written by tests/protocol/harness.js
name = "proto"
display_title = "プロトコル試験"

[tokens]
access_token_seconds = 300

[[clients]]
client_id = "rp"
secret = ${toml(CLIENTS.rp.secret)}
redirect_uris = [${toml(REDIRECT_URI)}]
post_logout_redirect_uris = [${toml(POST_LOGOUT_REDIRECT_URI)}]
offline_access = true

[[clients]]
client_id = "spa"
public = true
redirect_uris = [${toml(REDIRECT_URI)}]
post_logout_redirect_uris = [${toml(POST_LOGOUT_REDIRECT_URI)}]

[[clients]]
client_id = "service"
secret = ${toml(CLIENTS.service.secret)}
service_account = true
redirect_uris = []
scopes = ["api.read", "api.write"]
audience = ["api"]

[[clients]]
client_id = "rp-es"
secret = ${toml(CLIENTS['rp-es'].secret)}
redirect_uris = [${toml(REDIRECT_URI)}]
id_token_signed_response_alg = "ES256"
${backchannelLogoutUri ? `backchannel_logout_uri = ${toml(backchannelLogoutUri)}\n` : ''}
[[clients]]
client_id = "rp-ed"
secret = ${toml(CLIENTS['rp-ed'].secret)}
redirect_uris = [${toml(REDIRECT_URI)}]
id_token_signed_response_alg = "EdDSA"

[[clients]]
client_id = "rp-jwt"
redirect_uris = [${toml(REDIRECT_URI)}]
jwks = ${toml(JSON.stringify(rpJwtJwks))}
`;

function writeConfig(dir, port, realm) {
  writeFileSync(join(dir, 'monban.toml'), `# Written by tests/protocol/harness.js
listen = ${toml(`127.0.0.1:${port}`)}
public_url = ${toml(`http://127.0.0.1:${port}`)}
database_url = ${toml(`sqlite://${join(dir, 'monban.db')}`)}
themes_dir = ${toml(join(REPO, 'themes'))}

[encryption_key]
file = ${toml(join(dir, 'encryption.key'))}
create_if_missing = true

[password_hashing]
# Cheap on purpose: these tests are about the protocol, not about hashing cost.
memory_kib = 8192
iterations = 1
parallelism = 1
`);
  mkdirSync(join(dir, 'realms'));
  writeFileSync(join(dir, 'realms', `${REALM}.toml`), realm);
}

/**
 * Starts Monban with realm `proto` and the members. Call `stop()` in `after` whatever happened; it
 * prints the server's output when `failed` is true (set by `it` below) or when starting failed.
 */
export async function startMonban({ members = MEMBERS, backchannelLogoutUri } = {}) {
  const server = {
    dir: mkdtempSync(join(tmpdir(), 'monban-protocol-')),
    child: null,
    failed: false,
    report() {
      const output = this.child?.output || '(nothing)';
      process.stderr.write(`\n----- monban output -----\n${output}\n----- end of monban output -----\n`);
    },
    async stop() {
      await this.child?.stop();
      if (this.failed) this.report();
      rmSync(this.dir, { recursive: true, force: true });
    },
  };
  try {
    const monban = binary('monban');
    const port = await freePort();
    server.baseUrl = `http://127.0.0.1:${port}`;
    server.issuer = `${server.baseUrl}/realms/${REALM}`;
    // The private_key_jwt client's key pair (ES256): public half in the realm file.
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const kid = 'rp-jwt-key-1';
    const publicJwk = { ...(await crypto.subtle.exportKey('jwk', pair.publicKey)), kid, alg: 'ES256', use: 'sig' };
    delete publicJwk.key_ops;
    delete publicJwk.ext;
    server.rpJwtKey = { key: pair.privateKey, kid };
    writeConfig(server.dir, port, realmToml({ rpJwtJwks: { keys: [publicJwk] }, backchannelLogoutUri }));

    const csv = join(server.dir, 'members.csv');
    writeFileSync(csv, membersCsv(members));
    try {
      await promisify(execFile)(monban, ['user', 'import', '--config-dir', server.dir, '--realm', REALM, csv],
        { env: childEnv({}) });
    } catch (error) {
      throw new Error(`monban user import failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    }

    server.child = new Child('monban', monban, ['serve', '--config-dir', server.dir], {
      MONBAN_LISTEN: `127.0.0.1:${port}`,
      MONBAN_PUBLIC_URL: server.baseUrl,
    });
    await waitForHttp(`${server.baseUrl}/health`, server.child);
  } catch (error) {
    server.failed = true;
    await server.stop();
    throw error;
  }
  return server;
}

/**
 * `test` that marks the server as failed when the test throws, so `after` prints its output.
 * `options.todo` (a reason) marks behaviour Monban does not have yet: the test still runs and
 * its failure is reported, but does not fail the run.
 */
export function defineIt(getServer) {
  return function it(name, options, fn) {
    if (typeof options === 'function') [options, fn] = [{}, options];
    test(name, { timeout: TEST_TIMEOUT_MS, ...options }, async (t) => {
      try {
        await fn(t);
      } catch (error) {
        const server = getServer();
        // A failing todo test is expected; only real failures dump the server's output.
        if (server && !options.todo) server.failed = true;
        throw error;
      }
    });
  };
}

// ---------------------------------------------------------------------------------------------
// openid-client

/**
 * An openid-client configuration for one of the realm's clients, from discovery. ID token
 * signatures are verified against the JWKS (enableNonRepudiationChecks), and the ID token's `alg`
 * must be the one registered for the client.
 */
export async function configFor(server, clientKey, { auth } = {}) {
  const c = CLIENTS[clientKey];
  const authentication = auth ??
    (clientKey === 'rp-jwt' ? client.PrivateKeyJwt(server.rpJwtKey)
      : c.secret ? client.ClientSecretBasic(c.secret) : client.None());
  return client.discovery(
    new URL(server.issuer),
    c.id,
    { id_token_signed_response_alg: c.alg },
    authentication,
    { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks], timeout: REQUEST_TIMEOUT_MS / 1000 },
  );
}

/** A fresh authorization request (code flow, PKCE S256, state, nonce) and the checks to verify its answer. */
export async function authorizationRequest(config, { scope = 'openid profile email', extra = {} } = {}) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier);
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
    ...extra,
  });
  return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true } };
}

/**
 * Logs `member` in with a new browser (or the one given) and redeems the code with
 * openid-client. Returns { tokens, claims, browser, callback }.
 */
export async function loginAndRedeem(server, config, member, { browser = new Browser(server), scope, rememberMe, extra } = {}) {
  const request = await authorizationRequest(config, { scope, extra });
  const callback = await browser.login(request.url, member, { rememberMe });
  const tokens = await client.authorizationCodeGrant(config, callback, request.checks);
  return { tokens, claims: tokens.claims(), browser, callback, request };
}

/**
 * What an OAuth error thrown by openid-client says: `{ status, error }`. openid-client throws a
 * ResponseBodyError for an error body, and a WWWAuthenticateChallengeError when the answer carries
 * a WWW-Authenticate challenge (RFC 6750 §3, or RFC 6749 §5.2 for invalid_client).
 */
export async function oauthError(promise) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof client.ResponseBodyError || error instanceof client.AuthorizationResponseError) {
      return { status: error.status, error: error.error, description: error.error_description, thrown: error };
    }
    if (error instanceof client.WWWAuthenticateChallengeError) {
      let fromChallenge = error.cause?.find((c) => c.parameters?.error)?.parameters.error;
      let fromBody;
      try {
        fromBody = (await error.response.clone().json())?.error;
      } catch { /* no JSON body */ }
      return { status: error.status, error: fromChallenge ?? fromBody, challenge: error.cause, thrown: error };
    }
    throw error;
  }
  throw new Error('expected an OAuth error, but the request succeeded');
}

/** The payload of a JWT, not verified (for looking at access tokens). */
export function jwtPayload(token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error(`not a JWS compact serialization: ${token.slice(0, 40)}…`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

export function jwtHeader(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
}

/**
 * Verifies a JWS (compact) against the realm's JWKS with node:crypto and returns
 * { header, payload }; throws when the key is unknown or the signature is wrong.
 */
export async function verifyJws(server, token) {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const response = await fetch(`${server.issuer}/protocol/openid-connect/certs`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const { keys } = await response.json();
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid} in the JWKS`);
  if (jwk.alg && jwk.alg !== header.alg) throw new Error(`key ${jwk.kid} is for ${jwk.alg}, the JWS says ${header.alg}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`, 'ascii');
  const signature = Buffer.from(s, 'base64url');
  const ok = {
    RS256: () => verify('sha256', data, key, signature),
    ES256: () => verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature),
    EdDSA: () => verify(null, data, key, signature),
  }[header.alg]?.();
  if (!ok) throw new Error(`the ${header.alg} signature does not verify`);
  return { header, payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) };
}

/**
 * `at_hash` as OIDC Core §3.1.3.6 defines it: the left half of the hash that goes with the ID
 * token's `alg` (SHA-256 for RS256/ES256; SHA-512 for EdDSA with Ed25519, as node-oidc-provider
 * and openid-client's oidc-token-hash compute it).
 */
export function expectedAtHash(alg, accessToken) {
  const hash = { RS256: 'sha256', ES256: 'sha256', PS256: 'sha256', EdDSA: 'sha512', Ed25519: 'sha512' }[alg];
  if (!hash) throw new Error(`no at_hash rule for ${alg}`);
  const digest = createHash(hash).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

// ---------------------------------------------------------------------------------------------
// The "browser": fetch with a cookie jar, following Monban's redirects by hand.

function decodeHtml(text) {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The attributes of an HTML tag, decoded. */
function attributes(tag) {
  const found = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    found[m[1].toLowerCase()] = decodeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return found;
}

/**
 * The forms of a page: { action, method, fields (hidden and text inputs with values), buttons }.
 */
export function parseForms(html, baseUrl) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(m[1]);
    const fields = {};
    for (const input of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributes(input[1]);
      if (!a.name) continue;
      if ((a.type === 'checkbox' || a.type === 'radio') && !('checked' in a)) continue;
      if (a.type === 'submit') continue;
      fields[a.name] = a.value ?? '';
    }
    const buttons = [...m[2].matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map((b) => ({
      ...attributes(b[1]),
      text: decodeHtml(b[2].replace(/<[^>]*>/g, '')).trim(),
    }));
    for (const input of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributes(input[1]);
      if (a.type === 'submit') buttons.push({ ...a, text: a.value ?? '' });
    }
    forms.push({
      id: attrs.id,
      action: new URL(attrs.action ?? '', baseUrl),
      method: (attrs.method ?? 'get').toUpperCase(),
      fields,
      buttons,
    });
  }
  return forms;
}

/** Visible text of a page, roughly (tags removed, entities decoded). */
export function pageText(html) {
  return decodeHtml(html.replace(/<script[\s\S]*?<\/script>/gi, '').replace(/<style[\s\S]*?<\/style>/gi, '')
    .replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
}

const isClientUrl = (url) => url.origin === 'http://127.0.0.1:9999';

/** A browser as far as Monban can tell: cookies and redirects. One per member's device. */
export class Browser {
  constructor(server) {
    this.server = server;
    /** name → { value, path } (host is always Monban's). */
    this.cookies = new Map();
  }

  cookieHeader(url) {
    const path = new URL(url).pathname;
    return [...this.cookies.entries()]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  keepCookies(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = false;
      for (const attr of attrs) {
        const [key, val = ''] = attr.split('=');
        const k = key.toLowerCase();
        if (k === 'path') path = val || '/';
        if (k === 'max-age' && Number(val) <= 0) expired = true;
        if (k === 'expires' && Date.parse(val) <= Date.now()) expired = true;
      }
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, { value, path });
    }
  }

  async request(url, { method = 'GET', form } = {}) {
    url = new URL(url);
    if (url.origin !== this.server.baseUrl) throw new Error(`the browser would leave Monban for ${url}`);
    const headers = { 'accept-language': 'ja' };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    this.keepCookies(response);
    return response;
  }

  /**
   * Requests `url` and follows redirects while they stay at Monban. Returns
   * { redirect: URL } when Monban sends the browser to a client (127.0.0.1:9999),
   * or { page: { status, url, html } } when it shows a page.
   */
  async navigate(url, init = {}) {
    let current = new URL(url);
    let response = await this.request(current, init);
    for (let hops = 0; ; hops += 1) {
      if (response.status >= 300 && response.status < 400) {
        const location = response.headers.get('location');
        if (!location) throw new Error(`HTTP ${response.status} from ${current} without Location`);
        const next = new URL(location, current);
        await response.body?.cancel();
        if (isClientUrl(next)) return { redirect: next, status: response.status };
        if (hops > 10) throw new Error(`too many redirects, last ${next}`);
        current = next;
        response = await this.request(current);
        continue;
      }
      return { page: { status: response.status, url: current, html: await response.text() } };
    }
  }

  /**
   * Runs the browser part of a login: the authorization URL → Monban's login form → posts the
   * member's ID and password → the redirect back to the client. Returns that redirect (the URL
   * with `code`, `state`, `iss`) for openid-client to process.
   */
  async login(authorizationUrl, member, { rememberMe = false } = {}) {
    const first = await this.navigate(authorizationUrl);
    if (first.redirect) return first.redirect; // already logged in (SSO)
    const { page } = first;
    const form = parseForms(page.html, page.url).find((f) => 'csrf_token' in f.fields && 'username' in f.fields);
    if (!form) {
      throw new Error(`no login form at ${page.url} (HTTP ${page.status}): ${pageText(page.html).slice(0, 300)}`);
    }
    const fields = { csrf_token: form.fields.csrf_token, username: member.userId, password: member.password };
    if (rememberMe) fields.rememberMe = 'on';
    const after = await this.navigate(form.action, { method: 'POST', form: fields });
    if (!after.redirect) {
      throw new Error(`the login did not return to the client: HTTP ${after.page.status} at ${after.page.url}: ` +
        pageText(after.page.html).slice(0, 300));
    }
    return after.redirect;
  }
}
