// Discovery and the authorization-code flow (SPEC §10: OIDC Core, Discovery 1.0, RFC 7636 PKCE),
// as a strict relying party (openid-client) observes them.
//
//   cargo build -p monban-server && cd tests/protocol && npm ci && npm test

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENTS, MEMBERS, authorizationRequest, client, configFor, defineIt, expectedAtHash, jwtHeader, loginAndRedeem,
  oauthError, startMonban,
} from './harness.js';

let server;
const it = defineIt(() => server);
const [ICHIRO, JIRO] = MEMBERS;

before(async () => { server = await startMonban(); });
after(async () => { await server?.stop(); });

describe('discovery (OpenID Connect Discovery 1.0)', () => {
  it('openid-client discovers the issuer; the core endpoints are on Keycloak\'s paths', async () => {
    const config = await configFor(server, 'rp');
    const metadata = config.serverMetadata();
    const endpoint = (path) => `${server.issuer}/protocol/openid-connect/${path}`;
    assert.equal(metadata.issuer, server.issuer);
    assert.equal(metadata.authorization_endpoint, endpoint('auth'));
    assert.equal(metadata.token_endpoint, endpoint('token'));
    assert.equal(metadata.userinfo_endpoint, endpoint('userinfo'));
    assert.equal(metadata.jwks_uri, endpoint('certs'));
    assert.ok(metadata.response_types_supported.includes('code'));
    assert.ok(metadata.code_challenge_methods_supported.includes('S256'));
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
  });

  it('lists the introspection, revocation and end-session endpoints', async () => {
    const metadata = (await configFor(server, 'rp')).serverMetadata();
    const endpoint = (path) => `${server.issuer}/protocol/openid-connect/${path}`;
    assert.equal(metadata.introspection_endpoint, endpoint('token/introspect'));
    assert.equal(metadata.revocation_endpoint, endpoint('revoke'));
    assert.equal(metadata.end_session_endpoint, endpoint('logout'));
  });

  it('advertises the grant types, client authentications and signing algorithms it supports', async () => {
    const metadata = (await configFor(server, 'rp')).serverMetadata();
    const includesAll = (list, wanted, what) => {
      assert.ok(Array.isArray(list), `${what} is listed`);
      for (const value of wanted) assert.ok(list.includes(value), `${what} includes ${value} (got ${JSON.stringify(list)})`);
    };
    includesAll(metadata.grant_types_supported, ['authorization_code', 'refresh_token', 'client_credentials'], 'grant_types_supported');
    includesAll(metadata.token_endpoint_auth_methods_supported,
      ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'], 'token_endpoint_auth_methods_supported');
    includesAll(metadata.id_token_signing_alg_values_supported, ['RS256', 'ES256', 'EdDSA'], 'id_token_signing_alg_values_supported');
    includesAll(metadata.scopes_supported, ['openid', 'offline_access'], 'scopes_supported');
  });
});

/**
 * The whole code flow for one client: login, code redemption with PKCE, state, nonce and `iss`
 * checked by openid-client, the ID token's signature checked against the JWKS and its `alg`
 * against the client's registration; then userinfo.
 */
async function codeFlow(clientKey, member, { auth } = {}) {
  const config = await configFor(server, clientKey, { auth });
  const { tokens, claims, callback } = await loginAndRedeem(server, config, member);

  assert.equal(callback.searchParams.get('iss'), server.issuer, 'the authorization response names the issuer (RFC 9207)');
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(typeof tokens.access_token === 'string' && tokens.access_token.length > 0);
  assert.ok(tokens.expires_in > 0 && tokens.expires_in <= 300, `expires_in ${tokens.expires_in}`);

  const header = jwtHeader(tokens.id_token);
  assert.equal(header.alg, CLIENTS[clientKey].alg, 'the ID token is signed with the client\'s registered algorithm');
  assert.ok(header.kid, 'the ID token names its key');

  const now = Math.floor(Date.now() / 1000);
  assert.equal(claims.iss, server.issuer);
  assert.ok(claims.aud === CLIENTS[clientKey].id || (Array.isArray(claims.aud) && claims.aud.includes(CLIENTS[clientKey].id)));
  assert.equal(typeof claims.sub, 'string');
  assert.ok(claims.sub.length > 0);
  assert.equal(typeof claims.sid, 'string', 'sid');
  assert.ok(claims.sid.length > 0);
  assert.equal(typeof claims.auth_time, 'number', 'auth_time');
  assert.ok(claims.auth_time <= now + 5 && claims.auth_time > now - 120, `auth_time ${claims.auth_time} is about now`);
  assert.equal(typeof claims.acr, 'string', 'acr');
  assert.ok(Array.isArray(claims.amr) && claims.amr.includes('pwd'), `amr ${JSON.stringify(claims.amr)} includes pwd`);
  // openid-client does not check at_hash in the code flow (it is optional there); a relying party may.
  assert.equal(claims.at_hash, expectedAtHash(header.alg, tokens.access_token), 'at_hash matches the access token');

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(userinfo.sub, claims.sub);
  assert.equal(userinfo.preferred_username, member.userId);
  assert.equal(userinfo.email, member.email);
  return { config, tokens, claims };
}

describe('authorization code flow with PKCE (S256), state and nonce', () => {
  it('confidential client `rp` (client_secret_basic, RS256 ID token)', async () => {
    await codeFlow('rp', ICHIRO);
  });

  it('confidential client `rp` with client_secret_post', async () => {
    await codeFlow('rp', JIRO, { auth: client.ClientSecretPost(CLIENTS.rp.secret) });
  });

  it('public client `spa` (no secret, client authentication none)', async () => {
    const { tokens } = await codeFlow('spa', ICHIRO);
    assert.ok(tokens.access_token);
  });

  it('confidential client `rp-es` (ES256 ID token)', async () => {
    await codeFlow('rp-es', JIRO);
  });

  it('confidential client `rp-ed` (EdDSA ID token)', async () => {
    await codeFlow('rp-ed', ICHIRO);
  });

  it('confidential client `rp-jwt` (private_key_jwt)', async () => {
    await codeFlow('rp-jwt', JIRO);
  });

  it('a code is single-use: a replay is invalid_grant and revokes the tokens issued from it', async () => {
    const config = await configFor(server, 'rp');
    const { tokens, claims, callback, request } = await loginAndRedeem(server, config, JIRO);
    const replay = await oauthError(client.authorizationCodeGrant(config, callback, request.checks));
    assert.equal(replay.status, 400);
    assert.equal(replay.error, 'invalid_grant');
    // RFC 6749 §4.1.2: the server SHOULD revoke the tokens issued from a replayed code.
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false,
      'the access token issued from the replayed code is revoked');
    const refused = await oauthError(client.fetchUserInfo(config, tokens.access_token, claims.sub));
    assert.equal(refused.status, 401);
    if (tokens.refresh_token) {
      const refresh = await oauthError(client.refreshTokenGrant(config, tokens.refresh_token));
      assert.equal(refresh.error, 'invalid_grant', 'the refresh token issued from the replayed code is revoked');
    }
  });

  it('the same member gets the same sub for every client, and a wrong secret is invalid_client', async () => {
    const a = await loginAndRedeem(server, await configFor(server, 'rp'), ICHIRO);
    const b = await loginAndRedeem(server, await configFor(server, 'rp-es'), ICHIRO);
    assert.equal(a.claims.sub, b.claims.sub);

    const wrong = await configFor(server, 'rp', { auth: client.ClientSecretBasic('not-the-secret') });
    const request = await authorizationRequest(wrong);
    const callback = await a.browser.login(request.url, ICHIRO); // SSO: straight back with a code
    const failure = await oauthError(client.authorizationCodeGrant(wrong, callback, request.checks));
    assert.equal(failure.status, 401);
    assert.equal(failure.error, 'invalid_client');
  });
});
