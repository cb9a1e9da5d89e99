// node-oidc-provider 8 for the idp-bench comparison: one client_credentials
// client (sid1/verysecret), ES256-signed JWT access tokens, memory adapter.
import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';
const port = Number(process.env.PORT || 9997);
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'k1' };
const oidc = new Provider(`http://localhost:${port}`, {
  clients: [{ client_id: 'sid1', client_secret: 'verysecret', grant_types: ['client_credentials'],
    redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'ES256' }],
  jwks: { keys: [jwk] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:bench:api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: '', audience: 'urn:bench:api', accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } } }),
    },
  },
});
oidc.listen(port, () => console.log(`listening on ${port}`));
