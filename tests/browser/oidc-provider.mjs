// A real OpenID Provider for the sso_ suites: panva's oidc-provider (OpenID Certified), configured from a
// JSON file, with a plain login page of its own. Run: node oidc-provider.mjs CONFIG.json
//
// CONFIG: {"port": 4000, "issuer": "http://127.0.0.1:4001", "kid": "key-1",
//          "clients": [{"client_id": "...", "client_secret": "...", "redirect_uris": ["..."]}],
//          "users_file": "users.json"}
// USERS (read again at every sign-in, so a test can change an address at the provider):
//          {"ann": {"password": "pw", "amr": ["pwd", "mfa"], "claims": {"email": "...", "email_verified": true}}}
// The signing key is made at start under `kid`: restarting with another kid is a key rotation.
import http from "node:http";
import fs from "node:fs";
import { generateKeyPair, exportJWK } from "jose";
import Provider from "oidc-provider";

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const users = () => JSON.parse(fs.readFileSync(config.users_file, "utf8"));

const { privateKey } = await generateKeyPair("RS256", { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: config.kid, alg: "RS256", use: "sig" };

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(config.issuer, {
  clients: config.clients.map((c) => ({
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    ...c,
  })),
  jwks: { keys: [jwk] },
  // The ID token carries the scopes' claims itself (repbook reads no userinfo).
  conformIdTokenClaims: false,
  claims: {
    openid: ["sub", "amr"],
    email: ["email", "email_verified", "xms_edov", "upn"],
    profile: ["name"],
  },
  scopes: ["openid", "email", "profile"],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const user = users()[id];
    if (!user) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...user.claims }) };
  },
  // A first-party client: no consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid email profile");
    await grant.save();
    return grant;
  },
  ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});

function loginPage(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Test provider: sign in</title></head><body><main><h1>Test provider</h1>
${error ? `<p id="provider-error" role="alert">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="login">User name</label> <input id="login" name="login" autocomplete="username">
<label for="password">Password</label> <input id="password" name="password" type="password">
<button type="submit" id="provider-submit">Sign in</button></form></main></body></html>`;
}

const form = (req) =>
  new Promise((resolve) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => resolve(new URLSearchParams(body)));
  });

const handler = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (!match) return handler(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(loginPage(details.uid));
    }
    const fields = await form(req);
    const login = fields.get("login") || "";
    const user = users()[login];
    if (!user || user.password !== fields.get("password")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return res.end(loginPage(details.uid, "Wrong user name or password."));
    }
    await provider.interactionFinished(req, res, { login: { accountId: login, amr: user.amr || ["pwd"] } }, { mergeWithLastSubmission: false });
  } catch (error) {
    res.writeHead(400, { "content-type": "text/plain" });
    res.end(`interaction failed: ${error.message}`);
  }
});
server.listen(config.port, "127.0.0.1", () => console.log("ready"));
