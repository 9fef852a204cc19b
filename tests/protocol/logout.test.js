// RP-Initiated Logout 1.0 (SPEC §7): the portal sends the member to the end-session endpoint;
// Monban ends the SSO session, revokes its tokens and returns to the portal.
//
//   cargo build -p monban-server && cd tests/protocol && npm ci && npm test

import { createServer } from 'node:http';
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  MEMBERS, POST_LOGOUT_REDIRECT_URI, authorizationRequest, client, configFor, defineIt, freePort, jwtHeader,
  loginAndRedeem, oauthError, pageText, parseForms, startMonban, verifyJws,
} from './harness.js';

let server;
const it = defineIt(() => server);
const [ICHIRO, JIRO, SABURO] = MEMBERS;
const CONFIRM_TEXT = 'ログアウトしてもよろしいですか？';
const CONFIRM_BUTTON = 'ログアウトする';
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** `rp-es`'s back-channel logout endpoint: keeps every POST it receives. */
const backchannel = { received: [], server: null, url: null };

before(async () => {
  const port = await freePort();
  backchannel.url = `http://127.0.0.1:${port}/backchannel-logout`;
  backchannel.server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      backchannel.received.push({ method: req.method, path: req.url, contentType: req.headers['content-type'], body });
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise((ok) => backchannel.server.listen(port, '127.0.0.1', ok));
  server = await startMonban({ backchannelLogoutUri: backchannel.url });
});
after(async () => {
  await server?.stop();
  await new Promise((ok) => (backchannel.server ? backchannel.server.close(ok) : ok()));
});

/** Waits (a few seconds at most) for a logout token about session `sid`. */
async function logoutTokenFor(sid) {
  const deadline = Date.now() + 8_000;
  while (Date.now() < deadline) {
    for (const delivery of backchannel.received) {
      const token = new URLSearchParams(delivery.body).get('logout_token');
      if (!token) continue;
      let payload;
      try { payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')); } catch { continue; }
      if (payload.sid === sid) return { delivery, token };
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`no logout token for sid ${sid} within 8s (received ${backchannel.received.length} POSTs)`);
}

/**
 * A silent authorization request (prompt=none) in `browser`: resolves to the tokens when the
 * SSO session is alive, or to the OAuth error of the authorization response (checked by
 * openid-client: state and iss) when it is not.
 */
async function silentLogin(config, browser) {
  const request = await authorizationRequest(config, { extra: { prompt: 'none' } });
  const outcome = await browser.navigate(request.url);
  assert.ok(outcome.redirect, `prompt=none answers with a redirect to the client (got HTTP ${outcome.page?.status})`);
  try {
    return { tokens: await client.authorizationCodeGrant(config, outcome.redirect, request.checks) };
  } catch (error) {
    if (error instanceof client.AuthorizationResponseError) return { error: error.error };
    throw error;
  }
}

function assertBackAtPortal(redirect, state) {
  assert.ok(redirect, 'the browser is sent back to the client');
  assert.equal(`${redirect.origin}${redirect.pathname}`, POST_LOGOUT_REDIRECT_URI);
  assert.equal(redirect.searchParams.get('state'), state);
}

describe('RP-initiated logout', () => {
  it('with id_token_hint: back to post_logout_redirect_uri with state; SSO session and tokens are gone', async () => {
    const config = await configFor(server, 'rp');
    const { tokens, browser, claims } = await loginAndRedeem(server, config, ICHIRO);
    assert.ok((await silentLogin(config, browser)).tokens, 'before logout, prompt=none logs in silently (SSO)');

    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
      state,
    });
    const outcome = await browser.navigate(url);
    assert.ok(outcome.redirect, `logout redirects (got HTTP ${outcome.page?.status}: ${pageText(outcome.page?.html ?? '').slice(0, 200)})`);
    assertBackAtPortal(outcome.redirect, state);

    assert.equal((await silentLogin(config, browser)).error, 'login_required', 'after logout, prompt=none is login_required');

    const refresh = await oauthError(client.refreshTokenGrant(config, tokens.refresh_token));
    assert.equal(refresh.error, 'invalid_grant', 'the refresh token is revoked');
    const userinfo = await oauthError(client.fetchUserInfo(config, tokens.access_token, claims.sub));
    assert.equal(userinfo.status, 401, 'the access token is revoked');
  });

  it('ends the session for every client of that session (single sign-on, then one logout)', async () => {
    const rp = await configFor(server, 'rp');
    const es = await configFor(server, 'rp-es');
    const first = await loginAndRedeem(server, rp, JIRO);
    const second = await loginAndRedeem(server, es, JIRO, { browser: first.browser }); // SSO, no form
    assert.equal(second.claims.sid, first.claims.sid, 'one SSO session, one sid');

    const state = client.randomState();
    const outcome = await first.browser.navigate(client.buildEndSessionUrl(rp, {
      id_token_hint: first.tokens.id_token, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state,
    }));
    assertBackAtPortal(outcome.redirect, state);
    assert.equal((await silentLogin(es, first.browser)).error, 'login_required');
    const refused = await oauthError(client.fetchUserInfo(es, second.tokens.access_token, second.claims.sub));
    assert.equal(refused.status, 401, 'the other client\'s access token of that session is revoked too');
  });

  it('back-channel logout: the other client of the session receives a valid logout token', async () => {
    const rp = await configFor(server, 'rp');
    const es = await configFor(server, 'rp-es');
    const first = await loginAndRedeem(server, rp, SABURO);
    const second = await loginAndRedeem(server, es, SABURO, { browser: first.browser });
    const sid = second.claims.sid;

    const state = client.randomState();
    const outcome = await first.browser.navigate(client.buildEndSessionUrl(rp, {
      id_token_hint: first.tokens.id_token, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state,
    }));
    assertBackAtPortal(outcome.redirect, state);

    const { delivery, token } = await logoutTokenFor(sid);
    assert.equal(delivery.method, 'POST');
    assert.equal(delivery.path, '/backchannel-logout');
    assert.match(delivery.contentType ?? '', /^application\/x-www-form-urlencoded/);
    // Back-Channel Logout 1.0 §2.4 and §2.6 (what the RP validates).
    const { header, payload } = await verifyJws(server, token);
    assert.equal(header.alg, 'ES256', 'signed with the algorithm registered for rp-es ID tokens');
    assert.equal(jwtHeader(token).typ, 'logout+jwt');
    assert.equal(payload.iss, server.issuer);
    assert.deepEqual([payload.aud].flat(), ['rp-es']);
    assert.equal(typeof payload.iat, 'number');
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 60, 'iat is about now');
    if (payload.exp !== undefined) assert.ok(payload.exp > payload.iat);
    assert.equal(typeof payload.jti, 'string');
    assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} });
    assert.equal(payload.sid, sid);
    assert.equal(payload.sub, second.claims.sub);
    assert.equal(payload.nonce, undefined, 'a logout token carries no nonce');
  });

  it('without id_token_hint: a confirmation page; the session lives on until the member confirms', async () => {
    const config = await configFor(server, 'rp');
    const { browser } = await loginAndRedeem(server, config, SABURO);
    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, { post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state });

    const outcome = await browser.navigate(url);
    assert.ok(outcome.page, `a page is shown, not a redirect to ${outcome.redirect}`);
    assert.equal(outcome.page.status, 200);
    assert.ok(pageText(outcome.page.html).includes(CONFIRM_TEXT), `the page asks "${CONFIRM_TEXT}"`);
    const form = parseForms(outcome.page.html, outcome.page.url)
      .find((f) => f.buttons.some((b) => b.text === CONFIRM_BUTTON));
    assert.ok(form, `a form with the button "${CONFIRM_BUTTON}"`);
    assert.equal(form.method, 'POST', 'logging out is a POST (a GET by a prefetcher must not log out)');

    assert.ok((await silentLogin(config, browser)).tokens, 'showing the page did not log the member out');
  });

  it('without id_token_hint: confirming logs out and returns to post_logout_redirect_uri with state', async () => {
    const config = await configFor(server, 'rp');
    const { browser, tokens } = await loginAndRedeem(server, config, ICHIRO);
    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, { post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state });
    const { page } = await browser.navigate(url);
    assert.ok(page, 'a confirmation page');
    const form = parseForms(page.html, page.url).find((f) => f.buttons.some((b) => b.text === CONFIRM_BUTTON));
    assert.ok(form, `a form with the button "${CONFIRM_BUTTON}"`);
    const button = form.buttons.find((b) => b.text === CONFIRM_BUTTON);
    const fields = { ...form.fields, ...(button.name ? { [button.name]: button.value ?? '' } : {}) };

    const outcome = await browser.navigate(form.action, { method: 'POST', form: fields });
    assertBackAtPortal(outcome.redirect, state);
    assert.equal((await silentLogin(config, browser)).error, 'login_required');
    const refresh = await oauthError(client.refreshTokenGrant(config, tokens.refresh_token));
    assert.equal(refresh.error, 'invalid_grant');
  });

  it('an id_token_hint issued to another client than client_id is refused (no redirect, no logout)', async () => {
    const rp = await configFor(server, 'rp');
    const es = await configFor(server, 'rp-es');
    const { browser, tokens } = await loginAndRedeem(server, rp, SABURO);
    // RP-Initiated Logout 1.0 §2: with both, the OP verifies client_id matches the hint's audience.
    const url = client.buildEndSessionUrl(es, {
      id_token_hint: tokens.id_token, post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI, state: 'x',
    });
    const outcome = await browser.navigate(url);
    assert.equal(outcome.redirect, undefined, `Monban redirected to ${outcome.redirect}`);
    assert.ok((await silentLogin(rp, browser)).tokens, 'the member is still logged in');
  });

  it('an unregistered post_logout_redirect_uri is never followed', async () => {
    const config = await configFor(server, 'rp');
    const { browser, tokens } = await loginAndRedeem(server, config, JIRO);
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: 'http://127.0.0.1:9999/elsewhere',
      state: 'x',
    });
    const outcome = await browser.navigate(url);
    assert.ok(!outcome.redirect || !outcome.redirect.pathname.startsWith('/elsewhere'),
      `Monban redirected to an unregistered URI: ${outcome.redirect}`);
    assert.ok(outcome.page, 'an error (or confirmation) page is shown instead');
  });
});
