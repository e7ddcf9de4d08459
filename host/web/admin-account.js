// My account: your name and password, your second factors (passkeys, an authenticator app, recovery
// codes), where you are signed in, and your API tokens. The pieces that add a factor are exported: signing
// in uses them to enrol the second factor the host asks for.
import { setCsrf } from "./api.js";
import { $, h, field, table, say, showError, act, get, request, API } from "./ui.js";
import { whenIn } from "./words.js";
import * as webauthn from "./webauthn.js";

const ROLE_WORDS = { front_desk: "Front desk", manager: "Practice manager", owner: "Host owner" };
export const roleWords = (role) => ROLE_WORDS[role] || role;

// A factor changed: the session's cookie was rotated, so its CSRF token is new.
function rotated(answer) {
  if (answer && answer.session) setCsrf(answer.session.csrf_token);
  return answer;
}

// The server's QR code, drawn as SVG; parsed (never run) and put into the page as an element.
function qrElement(svgText) {
  const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName.toLowerCase() !== "svg") return h("p", {}, "The QR code could not be drawn; type the key below.");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code to scan with an authenticator app");
  svg.setAttribute("class", "qr");
  return document.importNode(svg, true);
}

// Ten recovery codes, shown this once.
export function recoveryCodes(codes, onSaved) {
  return h("section", { class: "secret-once", "aria-labelledby": "codes-heading" },
    h("h3", { id: "codes-heading", tabindex: "-1" }, "Your recovery codes"),
    h("p", {}, "Each code signs you in once if you lose your passkey or phone. Save them somewhere safe now (print them, or keep them in a password manager): they are not shown again."),
    h("ol", { class: "codes", id: "recovery-codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
    onSaved ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "codes-saved", onclick: onSaved }, "I have saved them")) : null);
}

// "Set up an authenticator app": the QR code and key, then the code it shows.
export function totpSetup(onDone) {
  const box = h("div", { class: "factor-setup", id: "totp-setup" });
  const start = h("button", {
    type: "button", id: "totp-start", onclick: async () => {
      const enrolment = await act("Making a key…", "POST", "/me/totp", {});
      if (!enrolment) return;
      const form = h("form", { class: "inline-form", novalidate: true, id: "totp-confirm-form" },
        field("The 6-digit code the app shows", { id: "totp-code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "9", required: true }),
        h("button", { type: "submit", class: "primary" }, "Confirm"));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const code = $("totp-code").value.trim();
        if (!code) {
          showError("Type the 6-digit code your authenticator app shows for repbook.");
          $("totp-code").focus();
          return;
        }
        const answer = rotated(await act("Checking the code…", "POST", "/me/totp/confirm", { code }, "The authenticator app is set up."));
        if (answer) onDone(answer);
      });
      box.textContent = "";
      box.append(
        h("p", {}, "Scan this with an authenticator app (Microsoft Authenticator, Google Authenticator, 1Password…):"),
        qrElement(enrolment.qr_svg),
        h("p", {}, "Or type this key into the app: ", h("code", { id: "totp-secret", class: "url" }, enrolment.secret)),
        form);
      $("totp-code").focus();
    },
  }, "Set up an authenticator app");
  box.append(start);
  return box;
}

// "Add a passkey": a name, then the browser's own passkey dialog.
export function passkeyAdd(site, onDone) {
  const form = h("form", { class: "inline-form", novalidate: true, id: "passkey-add-form" },
    field("Name it (so you know which it is)", { id: "passkey-name", maxlength: "80", placeholder: "Work laptop" }),
    h("button", { type: "submit", id: "passkey-add" }, "Add a passkey"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    if (!webauthn.supported()) {
      showError("This browser cannot make passkeys here (it needs a secure page: HTTPS, or http://localhost). Use an authenticator app instead.");
      return;
    }
    const options = await act("Asking your device for a passkey…", "POST", "/me/passkeys/options", {});
    if (!options) return;
    let credential;
    try {
      credential = await webauthn.create(options.options);
    } catch (error) {
      say("");
      showError(webauthn.explain(error, site));
      return;
    }
    const answer = rotated(await act("Saving the passkey…", "POST", "/me/passkeys", {
      ceremony: options.ceremony, name: $("passkey-name").value.trim() || null, credential,
    }, "Passkey added."));
    if (answer) onDone(answer);
  });
  return form;
}

function tokenForm(ctx, rerender) {
  const roles = ["front_desk", "manager"].filter((r) => r === "front_desk" || ctx.role !== "front_desk");
  const form = h("form", { class: "grid-form", novalidate: true, id: "token-form" },
    field("What it is for", { id: "token-name", maxlength: "80", required: true, placeholder: "Nightly export" }),
    field("Acts as", { id: "token-role", tag: "select", options: roles.map((r) => [r, `${roleWords(r)} at ${ctx.clinic.name}`]) }),
    field("Days until it stops", { id: "token-days", type: "number", min: "1", max: "366", value: "90" }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Make a token")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const made = await act("Making the token…", "POST", "/tokens", {
      name: $("token-name").value.trim(), clinic: ctx.clinic.id, role: $("token-role").value, expires_days: Number($("token-days").value),
    }, "Token made: copy it now, it is not shown again.");
    if (made) {
      ctx.state.madeToken = made.token;
      await rerender();
    }
  });
  return form;
}

export async function render(ctx) {
  const [me, sessions, tokens, links] = await Promise.all([get("/me"), get("/me/sessions"), get("/tokens"), get("/me/sso-links")]);
  if (!me || !sessions || !tokens || !links) return null;
  const zone = ctx.clinic.timezone;
  const rerender = () => ctx.rerender();
  const session = ctx.session;
  const nameForm = h("form", { class: "inline-form", novalidate: true, id: "name-form" },
    field("Your name", { id: "me-name", value: me.name, maxlength: "120", required: true }),
    h("button", { type: "submit" }, "Save"));
  nameForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await act("Saving…", "PATCH", "/me", { name: $("me-name").value.trim() }, "Name saved.")) await rerender();
  });
  const passwordForm = h("form", { class: "grid-form", novalidate: true, id: "password-form" },
    field("Current password", { id: "pw-current", type: "password", autocomplete: "current-password", required: true }),
    field("New password", { id: "pw-new", type: "password", autocomplete: "new-password", minlength: "12", required: true }, "At least 12 characters; a few unrelated words are easy to remember."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Change the password")));
  passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await act("Changing the password…", "PATCH", "/me", {
      password: $("pw-new").value, current_password: $("pw-current").value,
    }, "Password changed; your other sessions were signed out.");
    if (answer) {
      rotated(answer);
      await rerender();
    }
  });
  const factorDone = async (answer) => {
    if (answer.recovery_codes) ctx.state.recoveryCodes = answer.recovery_codes;
    await rerender();
  };
  const remove = (label, path, done) => h("button", {
    type: "button", class: "danger", "aria-label": label, onclick: async () => {
      const answer = rotated(await act(`${label}…`, "DELETE", path, undefined, done));
      if (answer) await rerender();
    },
  }, "Remove");
  const codes = ctx.state.recoveryCodes;
  ctx.state.recoveryCodes = null;
  const madeToken = ctx.state.madeToken;
  ctx.state.madeToken = null;
  return [
    h("h2", {}, "My account"),
    h("dl", { class: "facts" },
      h("dt", {}, "Email"), h("dd", { id: "me-email" }, me.email),
      h("dt", {}, "Roles"), h("dd", {}, me.roles.map((r) => `${roleWords(r.role)}${r.clinic_name ? ` at ${r.clinic_name}` : ""}`).join("; ") || "None"),
      h("dt", {}, "Last sign-in"), h("dd", {}, me.last_sign_in_at ? whenIn(me.last_sign_in_at, zone) : "—")),
    nameForm,
    h("h3", {}, "Password"), passwordForm,
    codes ? recoveryCodes(codes) : null,
    h("h3", {}, "Passkeys"),
    h("p", { class: "note" }, `A passkey signs you in by itself, with your fingerprint, face or device PIN; it only works on this server's own name (${session.passkey_site}).`),
    table(["Name", "Added", "Last used", ""], me.factors.passkeys.map((k) => [
      k.name, whenIn(k.created_at, zone), k.last_used_at ? whenIn(k.last_used_at, zone) : "never",
      remove(`Remove the passkey ${k.name}`, `/me/passkeys/${encodeURIComponent(k.id)}`, `Passkey ${k.name} removed.`),
    ]), "Your passkeys"),
    passkeyAdd(session.passkey_site, factorDone),
    h("h3", {}, "Authenticator app"),
    me.factors.totp
      ? h("p", { id: "totp-state" }, "On: codes from your app sign you in. ", remove("Remove the authenticator app", "/me/totp", "Authenticator app removed."))
      : totpSetup(factorDone),
    h("h3", {}, "Recovery codes"),
    h("p", { id: "codes-left" }, `${me.factors.recovery_codes_left} of 10 left. `,
      h("button", {
        type: "button", id: "new-codes", onclick: async () => {
          const answer = rotated(await act("Making new codes…", "POST", "/me/recovery-codes", {}, "New recovery codes: the old ones no longer work."));
          if (answer) await factorDone(answer);
        },
      }, "Make new codes")),
    h("h3", {}, "Linked sign-ins"),
    h("p", {}, "A practice account (Microsoft 365, Google) that signs in as you. Unlinking stops it; signing in with it again links it again if its address is yours."),
    table(["Provider", "Address when linked", "Linked", "Last used", ""], links.links.map((l) => [
      l.provider, l.email_at_link, whenIn(l.linked_at, zone), whenIn(l.last_used_at, zone),
      h("button", {
        type: "button", class: "danger", "aria-label": `Unlink ${l.provider}`, onclick: async () => {
          if (await act("Unlinking…", "DELETE", `/me/sso-links/${encodeURIComponent(l.id)}`, undefined, `${l.provider} no longer signs in as you.`)) await rerender();
        },
      }, "Unlink"),
    ]), "Your linked sign-ins"),
    h("h3", {}, "Where you are signed in"),
    table(["Device", "From", "Since", "Last seen", ""], sessions.sessions.map((s) => [
      `${s.device || "A browser"}${s.current ? " (this one)" : ""}`, s.client, whenIn(s.created_at, zone), whenIn(s.last_seen_at, zone),
      s.current ? "" : h("button", {
        type: "button", "aria-label": `Sign out ${s.device} at ${s.client}`, onclick: async () => {
          if (await act("Signing it out…", "DELETE", `/me/sessions/${encodeURIComponent(s.id)}`, undefined, "Signed out.")) await rerender();
        },
      }, "Sign out"),
    ]), "Your sessions"),
    sessions.sessions.length > 1 ? h("div", { class: "actions" }, h("button", {
      type: "button", id: "sign-out-others", onclick: async () => {
        if (await act("Signing out your other sessions…", "DELETE", "/me/sessions/others", undefined, (r) => `Signed out ${r.ended} other session${r.ended === 1 ? "" : "s"}.`)) await rerender();
      },
    }, "Sign out everywhere else")) : null,
    h("h3", {}, "API tokens"),
    h("p", {}, "A token lets a script act for you at one clinic, never with more than your role. It is shown once; it stops when it expires, when you revoke it, or if your account is disabled."),
    madeToken ? h("p", { class: "secret-once" }, "Your new token (copy it now): ", h("code", { id: "made-token" }, madeToken)) : null,
    table(["Name", "Acts as", "Expires", "Last used", ""], tokens.tokens.filter((t) => !t.revoked_at).map((t) => [
      t.name, roleWords(t.role), whenIn(t.expires_at, zone), t.last_used_at ? `${whenIn(t.last_used_at, zone)} from ${t.last_used_from}` : "never",
      h("button", {
        type: "button", class: "danger", "aria-label": `Revoke the token ${t.name}`, onclick: async () => {
          if (await act("Revoking…", "DELETE", `/tokens/${encodeURIComponent(t.id)}`, undefined, `Token ${t.name} revoked.`)) await rerender();
        },
      }, "Revoke"),
    ]), "Your tokens"),
    tokenForm(ctx, rerender),
  ];
}

export { API, request };
