// Refresh tokens (RFC 6749 §6, OIDC Core §12): rotation with reuse detection (SPEC §10), and
// offline_access.
//
//   cargo build -p monban-server && cd tests/protocol && npm ci && npm test

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  MEMBERS, client, configFor, defineIt, expectedAtHash, loginAndRedeem, oauthError, startMonban,
} from './harness.js';

let server;
const it = defineIt(() => server);
const [ICHIRO, JIRO, SABURO] = MEMBERS;

before(async () => { server = await startMonban(); });
after(async () => { await server?.stop(); });

describe('refresh token rotation', () => {
  it('a refresh gives a new access token and a new refresh token; the ID token keeps auth_time, sid, acr', async () => {
    const config = await configFor(server, 'rp');
    const first = await loginAndRedeem(server, config, ICHIRO);
    assert.ok(first.tokens.refresh_token, 'the code flow issues a refresh token');

    const second = await client.refreshTokenGrant(config, first.tokens.refresh_token);
    assert.ok(second.access_token);
    assert.notEqual(second.access_token, first.tokens.access_token, 'a new access token');
    assert.ok(second.refresh_token, 'a refresh token comes back (rotation)');
    assert.notEqual(second.refresh_token, first.tokens.refresh_token, 'the refresh token is rotated');
    assert.ok(second.id_token, 'a refreshed ID token (scope openid)');
    const claims = second.claims();
    for (const name of ['iss', 'sub', 'auth_time', 'sid', 'acr']) {
      assert.deepEqual(claims[name], first.claims[name], `the refreshed ID token keeps ${name} (OIDC Core §12.2)`);
    }
    assert.deepEqual(claims.aud, first.claims.aud);
    assert.equal(claims.azp, first.claims.azp);
    assert.equal(claims.at_hash, expectedAtHash('RS256', second.access_token), 'at_hash matches the new access token');

    const userinfo = await client.fetchUserInfo(config, second.access_token, first.claims.sub);
    assert.equal(userinfo.preferred_username, ICHIRO.userId);

    // The rotated token works in turn.
    assert.equal((await client.tokenIntrospection(config, first.tokens.refresh_token)).active, false,
      'the rotated-out refresh token is inactive');
    const third = await client.refreshTokenGrant(config, second.refresh_token);
    assert.ok(third.refresh_token);
    assert.notEqual(third.refresh_token, second.refresh_token);
    assert.equal(third.claims().sid, first.claims.sid);
  });

  it('reusing a rotated refresh token is invalid_grant and revokes the whole family', async () => {
    const config = await configFor(server, 'rp');
    const first = await loginAndRedeem(server, config, JIRO);
    const oldRefresh = first.tokens.refresh_token;
    assert.ok(oldRefresh, 'the code flow issues a refresh token');
    const second = await client.refreshTokenGrant(config, oldRefresh);
    assert.ok(second.refresh_token);

    const reuse = await oauthError(client.refreshTokenGrant(config, oldRefresh));
    assert.equal(reuse.status, 400);
    assert.equal(reuse.error, 'invalid_grant', 'the old refresh token is refused');

    const newest = await oauthError(client.refreshTokenGrant(config, second.refresh_token));
    assert.equal(newest.error, 'invalid_grant', 'reuse detection revoked the newest refresh token too');

    for (const [what, token] of [['newest', second.access_token], ['first', first.tokens.access_token]]) {
      const refused = await oauthError(client.fetchUserInfo(config, token, first.claims.sub));
      assert.equal(refused.status, 401, `the ${what} access token is refused at userinfo`);
      assert.equal(refused.error, 'invalid_token', `the ${what} access token is invalid_token (RFC 6750 §3.1)`);
      const introspection = await client.tokenIntrospection(config, token);
      assert.equal(introspection.active, false, `introspection says the ${what} access token is inactive`);
    }
  });

  it('a refresh token of one client cannot be used by another', async () => {
    const rp = await configFor(server, 'rp');
    const { tokens } = await loginAndRedeem(server, rp, SABURO);
    assert.ok(tokens.refresh_token);
    const other = await configFor(server, 'rp-es');
    const refused = await oauthError(client.refreshTokenGrant(other, tokens.refresh_token));
    assert.equal(refused.error, 'invalid_grant');
  });
});

describe('offline_access', () => {
  it('scope `openid offline_access` gives `rp` a refresh token that works', async () => {
    const config = await configFor(server, 'rp');
    const { tokens, claims } = await loginAndRedeem(server, config, SABURO, { scope: 'openid offline_access' });
    assert.ok(tokens.refresh_token, 'a refresh token is issued');
    if (tokens.scope !== undefined) {
      assert.ok(tokens.scope.split(' ').includes('offline_access'), `granted scope ${tokens.scope} includes offline_access`);
    }
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token);
    assert.ok(refreshed.refresh_token);
    const userinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
    assert.equal(userinfo.sub, claims.sub);
  });
});
