// Test-only OpenID Provider for dirbridge's harness (internal/harness/oidcprovider.go).
//
// One process serves several issuers under path prefixes of one loopback
// port — an Entra-like `/<tenant-id>/v2.0` and an Okta-like
// `/oauth2/default` — from a JSON config file named on the command line:
//
//   { "port": 1234, "issuers": [ { "prefix": "/<tid>/v2.0",
//       "clients": [ { "client_id", "client_secret", "redirect_uris": [...] } ],
//       "scopes": { "profile": ["name", ...], ... },
//       "users": { "<login>": { "sub": "...", "<claim>": ... } } } ] }
//
// Sign-in is automated: the interaction page accepts `login_hint` (the
// user's login) and finishes the login at once; consent is implied by an
// existing grant made on the fly. Claims go into the ID token
// (conformIdTokenClaims: false), as Entra and Okta do.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const base = `http://127.0.0.1:${cfg.port}`;

// A fresh signing key per run: committed keys would be the same in every
// checkout and certificates expire.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };
const cookieKeys = [crypto.randomBytes(32).toString('hex')];

function makeProvider(iss) {
  const users = iss.users || {};
  const scopes = iss.scopes || {};
  const claims = { openid: ['sub', ...(scopes.openid || [])] };
  for (const [scope, names] of Object.entries(scopes)) {
    if (scope !== 'openid') claims[scope] = names;
  }
  const provider = new Provider(base + iss.prefix, {
    clients: iss.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    jwks: { keys: [jwk] },
    cookies: { keys: cookieKeys },
    claims,
    scopes: Object.keys(claims),
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `${iss.prefix}/interaction/${interaction.uid}` },
    findAccount: async (ctx, id) => {
      const u = Object.values(users).find((x) => x.sub === id);
      if (!u) return undefined;
      return { accountId: id, claims: async () => ({ ...u }) };
    },
    // Consent is implied: the grant covers what the client asked for.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  });
  provider.proxy = false;
  return { provider, users, prefix: iss.prefix, callback: provider.callback() };
}

const issuers = cfg.issuers.map(makeProvider);

async function interaction(p, req, res) {
  const details = await p.provider.interactionDetails(req, res);
  const hint = details.params.login_hint;
  const user = hint && p.users[hint];
  if (details.prompt.name !== 'login' || !user) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`test IdP: cannot sign in (prompt ${details.prompt.name}, login_hint ${JSON.stringify(hint)})`);
    return;
  }
  await p.provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
}

const server = http.createServer(async (req, res) => {
  try {
    const p = issuers.find((x) => req.url === x.prefix || req.url.startsWith(`${x.prefix}/`));
    if (!p) {
      res.writeHead(404);
      res.end('no such issuer');
      return;
    }
    if (req.url.startsWith(`${p.prefix}/interaction/`)) {
      await interaction(p, req, res);
      return;
    }
    // Mounted under a prefix: oidc-provider derives its mount path from
    // originalUrl minus url.
    req.originalUrl = req.url;
    req.url = req.url.slice(p.prefix.length) || '/';
    p.callback(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) res.writeHead(500);
    res.end(String(err && err.message));
  }
});

server.listen(cfg.port, '127.0.0.1', () => {
  console.log(`oidc-provider test IdP listening on ${base}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
