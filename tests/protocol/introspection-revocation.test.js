// Token introspection (RFC 7662) and revocation (RFC 7009), as a relying party sees them.
//
//   cargo build -p monban-server && cd tests/protocol && npm ci && npm test

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MEMBERS, client, configFor, defineIt, loginAndRedeem, oauthError, startMonban } from './harness.js';

let server;
const it = defineIt(() => server);
const [ICHIRO, JIRO, SABURO] = MEMBERS;

before(async () => { server = await startMonban(); });
after(async () => { await server?.stop(); });

function assertActive(introspection, { sub, what }) {
  const now = Math.floor(Date.now() / 1000);
  assert.equal(introspection.active, true, `${what} is active`);
  assert.equal(introspection.client_id, 'rp', `${what}: client_id`);
  assert.equal(introspection.sub, sub, `${what}: sub`);
  assert.equal(typeof introspection.scope, 'string', `${what}: scope`);
  assert.ok(introspection.scope.split(' ').includes('openid'), `${what}: scope ${introspection.scope} includes openid`);
  assert.equal(typeof introspection.exp, 'number', `${what}: exp`);
  assert.ok(introspection.exp > now, `${what}: exp is in the future`);
}

describe('introspection (RFC 7662)', () => {
  it('an access token and a refresh token are active, with client_id, sub, scope and exp', async () => {
    const config = await configFor(server, 'rp');
    const { tokens, claims } = await loginAndRedeem(server, config, ICHIRO);
    assertActive(await client.tokenIntrospection(config, tokens.access_token), { sub: claims.sub, what: 'the access token' });
    assert.ok(tokens.refresh_token, 'the code flow issues a refresh token');
    assertActive(await client.tokenIntrospection(config, tokens.refresh_token), { sub: claims.sub, what: 'the refresh token' });
    // A hint that is wrong must not change the answer (RFC 7662 §2.1).
    assertActive(await client.tokenIntrospection(config, tokens.access_token, { token_type_hint: 'refresh_token' }),
      { sub: claims.sub, what: 'the access token with a wrong hint' });
  });

  it('garbage is inactive, and nothing else is said about it', async () => {
    const config = await configFor(server, 'rp');
    const answer = await client.tokenIntrospection(config, 'not-a-token-at-all');
    assert.equal(answer.active, false);
    for (const name of ['sub', 'client_id', 'scope', 'username']) {
      assert.equal(answer[name], undefined, `an inactive answer carries no ${name} (RFC 7662 §2.2)`);
    }
  });

  it('a public client may not introspect: 401 invalid_client', async () => {
    const rp = await configFor(server, 'rp');
    const { tokens } = await loginAndRedeem(server, rp, JIRO);
    const spa = await configFor(server, 'spa');
    const refused = await oauthError(client.tokenIntrospection(spa, tokens.access_token));
    assert.equal(refused.status, 401);
    assert.equal(refused.error, 'invalid_client');
  });

  it('a wrong client secret may not introspect: 401 invalid_client', async () => {
    const wrong = await configFor(server, 'rp', { auth: client.ClientSecretBasic('not-the-secret') });
    const refused = await oauthError(client.tokenIntrospection(wrong, 'whatever'));
    assert.equal(refused.status, 401);
    assert.equal(refused.error, 'invalid_client');
  });
});

describe('revocation (RFC 7009)', () => {
  it('a revoked access token is inactive', async () => {
    const config = await configFor(server, 'rp');
    const { tokens } = await loginAndRedeem(server, config, SABURO);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
    await client.tokenRevocation(config, tokens.access_token);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
  });

  it('a revoked refresh token cannot be used: invalid_grant', async () => {
    const config = await configFor(server, 'rp');
    const { tokens } = await loginAndRedeem(server, config, ICHIRO);
    assert.ok(tokens.refresh_token, 'the code flow issues a refresh token');
    await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    const refused = await oauthError(client.refreshTokenGrant(config, tokens.refresh_token));
    assert.equal(refused.error, 'invalid_grant');
    assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, false);
    // RFC 7009 §2.1: the access tokens of the same grant SHOULD go with it.
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false,
      'the access token of the same grant is revoked too');
  });

  it('a wrong token_type_hint does not stop the revocation (RFC 7009 §2.1)', async () => {
    const config = await configFor(server, 'rp');
    const { tokens } = await loginAndRedeem(server, config, SABURO);
    await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'access_token' });
    const refused = await oauthError(client.refreshTokenGrant(config, tokens.refresh_token));
    assert.equal(refused.error, 'invalid_grant');
  });

  it('revoking an unknown token succeeds (RFC 7009 §2.2)', async () => {
    const config = await configFor(server, 'rp');
    await client.tokenRevocation(config, 'not-a-token-at-all');
  });

  it('another client cannot revoke a token it was not issued (the token stays active)', async () => {
    const rp = await configFor(server, 'rp');
    const { tokens } = await loginAndRedeem(server, rp, JIRO);
    const other = await configFor(server, 'rp-es');
    // RFC 7009 §2.1: the server checks the token was issued to the requesting client. The
    // answer may be 200 (nothing done) or an error; what matters is that the token survives.
    await client.tokenRevocation(other, tokens.access_token).catch(() => {});
    assert.equal((await client.tokenIntrospection(rp, tokens.access_token)).active, true);
  });
});
