// The client-credentials grant (RFC 6749 §4.4) for service accounts.
//
//   cargo build -p monban-server && cd tests/protocol && npm ci && npm test

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { client, configFor, defineIt, jwtPayload, oauthError, startMonban } from './harness.js';

let server;
const it = defineIt(() => server);

before(async () => { server = await startMonban(); });
after(async () => { await server?.stop(); });

describe('client credentials', () => {
  it('`service` with scope api.read gets an access token for audience `api`', async () => {
    const config = await configFor(server, 'service');
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read' });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.expires_in > 0);
    assert.equal(tokens.id_token, undefined, 'no ID token without a member');

    const payload = jwtPayload(tokens.access_token);
    const now = Math.floor(Date.now() / 1000);
    assert.equal(payload.iss, server.issuer);
    assert.deepEqual([payload.aud].flat(), ['api'], `aud ${JSON.stringify(payload.aud)}`);
    const clientIds = [payload.azp, payload.client_id].filter((v) => v !== undefined);
    assert.ok(clientIds.length > 0, 'azp or client_id names the client');
    for (const id of clientIds) assert.equal(id, 'service');
    assert.deepEqual(payload.scope.split(' '), ['api.read']);
    assert.ok(payload.exp > now);

    // The service's token is active for the service itself.
    const introspection = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(introspection.active, true);
    assert.equal(introspection.client_id, 'service');
  });

  it('both allowed scopes may be asked for together', async () => {
    const config = await configFor(server, 'service');
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read api.write' });
    assert.deepEqual(jwtPayload(tokens.access_token).scope.split(' ').sort(), ['api.read', 'api.write']);
  });

  it('a scope the service may not have is invalid_scope', async () => {
    const config = await configFor(server, 'service');
    const refused = await oauthError(client.clientCredentialsGrant(config, { scope: 'api.read api.admin' }));
    assert.equal(refused.status, 400);
    assert.equal(refused.error, 'invalid_scope');
  });

  it('`rp` (not a service account) is unauthorized_client', async () => {
    const config = await configFor(server, 'rp');
    const refused = await oauthError(client.clientCredentialsGrant(config));
    assert.equal(refused.error, 'unauthorized_client');
  });

  it('a wrong secret is invalid_client', async () => {
    const config = await configFor(server, 'service', { auth: client.ClientSecretBasic('not-the-secret') });
    const refused = await oauthError(client.clientCredentialsGrant(config, { scope: 'api.read' }));
    assert.equal(refused.status, 401);
    assert.equal(refused.error, 'invalid_client');
  });
});
