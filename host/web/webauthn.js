// Passkeys in the browser: repbook's WebAuthn options (binary fields as base64url) turned into what
// navigator.credentials takes, and the browser's new or used credential turned back into JSON for repbook.
// The server checks everything; this only carries bytes both ways.

function decode(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  const bytes = atob(base64);
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i);
  return out.buffer;
}

function encode(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const withId = (list) => (list || []).map((c) => ({ ...c, id: decode(c.id) }));

export function supported() {
  return Boolean(window.PublicKeyCredential && navigator.credentials && window.isSecureContext);
}

// Makes a passkey from `options` ({ publicKey }), answering the credential as JSON.
export async function create(options) {
  const pk = options.publicKey;
  const publicKey = {
    ...pk,
    challenge: decode(pk.challenge),
    user: { ...pk.user, id: decode(pk.user.id) },
    excludeCredentials: withId(pk.excludeCredentials),
  };
  const credential = await navigator.credentials.create({ publicKey });
  return {
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: encode(credential.response.attestationObject),
      clientDataJSON: encode(credential.response.clientDataJSON),
      transports: credential.response.getTransports ? credential.response.getTransports() : [],
    },
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

// Signs with a passkey for `options` ({ publicKey }), answering the assertion as JSON.
export async function get(options) {
  const pk = options.publicKey;
  const publicKey = { ...pk, challenge: decode(pk.challenge), allowCredentials: withId(pk.allowCredentials) };
  const credential = await navigator.credentials.get({ publicKey });
  const r = credential.response;
  return {
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: encode(r.authenticatorData),
      clientDataJSON: encode(r.clientDataJSON),
      signature: encode(r.signature),
      userHandle: r.userHandle ? encode(r.userHandle) : null,
    },
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

// What went wrong in the browser, in words.
export function explain(error, site) {
  const name = error && error.name;
  if (name === "NotAllowedError") return "The passkey step was cancelled or timed out. Try again when you are ready.";
  if (name === "InvalidStateError") return "This passkey is registered already.";
  if (name === "SecurityError") {
    return `Passkeys here belong to ${site}: open this page as ${location.protocol}//${site}${location.port ? `:${location.port}` : ""}/ to use one, or use a code from an authenticator app.`;
  }
  return `Your browser could not use a passkey (${(error && error.message) || error}).`;
}
