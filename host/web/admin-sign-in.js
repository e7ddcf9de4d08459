// Signing in, one step at a time, as the API answers where it stands (`stage`): your email address and
// password (or a passkey alone), then your second factor; someone without one adds it first (a passkey or
// an authenticator app) and sees their recovery codes once; on a new server, the host token makes the
// owner's account and nothing else.
import { setCsrf, call } from "./api.js";
import { $, h, field, say, showError, act } from "./ui.js";
import * as webauthn from "./webauthn.js";
import { totpSetup, passkeyAdd, recoveryCodes } from "./admin-account.js";

let signedIn = () => {};

// What to do once signed in (the page opens the clinics).
export function onSignedIn(handler) {
  signedIn = handler;
}

function show(heading, ...children) {
  const section = $("sign-in");
  section.textContent = "";
  const title = h("h1", { id: "sign-in-heading", tabindex: "-1" }, heading);
  section.append(title, ...children.flat().filter(Boolean));
  section.hidden = false;
  title.focus();
}

// Goes on from a SessionView, whatever its stage.
export function step(view) {
  setCsrf(view.csrf_token);
  if (view.stage === "full") return signedIn(view);
  if (view.stage === "second_factor") return secondFactor(view);
  if (view.stage === "enrol") return enrol(view);
  if (view.stage === "setup") return setup();
  return start();
}

function submitting(form, handler) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    handler();
  });
  return form;
}

async function usePasskey(site) {
  showError("");
  if (!webauthn.supported()) {
    showError("This browser cannot use passkeys on this page (it needs HTTPS, or http://localhost). Sign in with your password.");
    return;
  }
  const options = await act("Asking your device…", "POST", "/session/passkey/options", {});
  if (!options) return;
  let credential;
  try {
    credential = await webauthn.get(options.options);
  } catch (error) {
    say("");
    showError(webauthn.explain(error, site || location.hostname));
    return;
  }
  const view = await act("Signing in…", "POST", "/session/passkey", { ceremony: options.ceremony, credential });
  if (view) step(view);
}

// Email and password; or a passkey alone; or a reset link; or, on a new server, the host token.
export function start() {
  setCsrf(null);
  const form = submitting(h("form", { id: "sign-in-form", novalidate: true },
    field("Email address", { id: "email", type: "email", autocomplete: "username", required: true, "aria-required": "true", spellcheck: "false" }),
    field("Password", { id: "password", type: "password", autocomplete: "current-password", required: true, "aria-required": "true" }),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Sign in"),
      h("button", { type: "button", id: "use-passkey", onclick: () => usePasskey() }, "Use a passkey"))), async () => {
    const email = $("email").value.trim();
    const password = $("password").value;
    if (!email || !password) {
      showError("Enter your email address and your password.");
      $(email ? "password" : "email").focus();
      return;
    }
    const view = await act("Signing in…", "POST", "/session", { email, password });
    $("password").value = "";
    if (view) step(view);
  });
  const forgot = submitting(h("form", { id: "forgot-form", class: "inline-form", novalidate: true },
    field("Your email address", { id: "forgot-email", type: "email", autocomplete: "username" }),
    h("button", { type: "submit" }, "Send me a reset link")), async () => {
    const email = $("forgot-email").value.trim();
    if (!email) {
      showError("Enter the address you sign in with.");
      $("forgot-email").focus();
      return;
    }
    await act("Sending…", "POST", "/password/forgot", { email }, "If that address has an account here, a reset link is on its way; it works for an hour.");
  });
  const token = submitting(h("form", { id: "host-token-form", class: "inline-form", novalidate: true },
    field("Host token", { id: "token", type: "password", autocomplete: "off", spellcheck: "false" }),
    h("button", { type: "submit" }, "Continue")), async () => {
    const value = $("token").value.trim();
    if (!value) {
      showError("Enter the host token: it is in the data directory's token file.");
      $("token").focus();
      return;
    }
    const view = await act("Checking…", "POST", "/session", { token: value });
    $("token").value = "";
    if (view) step(view);
  });
  const providers = h("div", { id: "sso-buttons", class: "actions" });
  const intro = h("p", { id: "sign-in-intro" }, "Sign in with your own email address and password, then your passkey or a code from your authenticator app.");
  const passwords = h("div", { id: "password-sign-in" }, form);
  show("Sign in", providers, intro, passwords,
    h("details", { id: "forgot" }, h("summary", {}, "Forgot your password?"),
      h("p", {}, "We will email you a link to choose a new one. Your passkeys and authenticator app stay as they are."), forgot),
    h("details", { id: "first-run" }, h("summary", {}, "Setting up a new server?"),
      h("p", {}, "Until the server has an owner, the host token (the data directory's ", h("code", {}, "token"), " file) makes the owner's account. After that it only works on the server's command line."), token));
  $("email").focus();
  offerProviders(providers, intro, passwords);
}

// "Sign in with NAME" for each provider the owner set up; with single sign-on the only way, the password
// form folds away (it stays for the break-glass owner).
async function offerProviders(providers, intro, passwords) {
  const answer = await call("GET", "/api/v1/session/options");
  if (!answer.ok || answer.data.providers.length === 0) return;
  for (const p of answer.data.providers) {
    providers.append(h("a", { class: "button primary", href: p.start_url, id: `sso-${p.id}` }, `Sign in with ${p.name}`));
  }
  if (!answer.data.password_sign_in) {
    intro.textContent = "This practice signs in with its own accounts: choose the button above.";
    const fold = h("details", { id: "break-glass" }, h("summary", {}, "Break-glass sign-in (the owner, when the provider is down)"));
    passwords.replaceWith(fold);
    fold.append(passwords);
    const forgot = $("forgot");
    if (forgot) fold.append(forgot);
  } else {
    intro.textContent = "Or sign in with your email address and password, then your passkey or a code from your authenticator app.";
  }
  providers.querySelector("a").focus();
}

function secondFactor(view) {
  const methods = view.methods;
  const code = submitting(h("form", { id: "code-form", novalidate: true },
    field("Code from your authenticator app", { id: "code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "9" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in"))), async () => {
    const value = $("code").value.trim();
    if (!value) {
      showError("Type the 6-digit code your app shows for repbook.");
      $("code").focus();
      return;
    }
    const next = await act("Checking the code…", "POST", "/session/totp", { code: value });
    if (next) step(next);
    else $("code").select();
  });
  const recovery = submitting(h("form", { id: "recovery-form", class: "inline-form", novalidate: true },
    field("Recovery code", { id: "recovery-code", autocomplete: "off", spellcheck: "false" }),
    h("button", { type: "submit" }, "Use this code")), async () => {
    const value = $("recovery-code").value.trim();
    if (!value) {
      showError("Type one of your recovery codes, such as ABCD-EFGH-JKMN.");
      $("recovery-code").focus();
      return;
    }
    const next = await act("Checking the code…", "POST", "/session/recovery", { code: value });
    if (next) step(next);
  });
  show(`Hello ${view.person ? view.person.name : ""}`.trim(),
    h("p", {}, "Now prove it is you with your second factor."),
    methods.includes("passkey") ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "second-passkey", onclick: () => usePasskey(view.passkey_site) }, "Use your passkey")) : null,
    methods.includes("totp") ? code : null,
    methods.includes("recovery") ? h("details", { id: "use-recovery" }, h("summary", {}, "Lost your device? Use a recovery code"), recovery) : null,
    h("p", {}, h("a", { href: "/", id: "start-over" }, "Start again")));
  if (methods.includes("totp")) $("code").focus();
}

function enrol(view) {
  const enrolled = (answer) => {
    const session = answer.session;
    if (!answer.recovery_codes) return step(session);
    show("Keep your recovery codes", recoveryCodes(answer.recovery_codes, () => step(session)));
  };
  const skip = view.can_skip_enrolment
    ? h("div", { class: "notice" },
      h("p", {}, "This is the demo: you may put this off once. A real clinic's server asks every account for a second factor."),
      h("button", {
        type: "button", id: "skip-enrolment", onclick: async () => {
          const next = await act("Going on…", "POST", "/session/skip-enrolment", {});
          if (next) step(next);
        },
      }, "Skip for now (demo only)"))
    : null;
  show("Add a second factor",
    h("p", {}, `${view.person ? view.person.name : "You"}, this server asks everyone for a second way to prove who they are, so a stolen password is not enough. Choose one; you can add the other later on My account.`),
    h("h2", {}, "A passkey (best)"),
    h("p", {}, "Your fingerprint, face or device PIN; it cannot be phished."),
    passkeyAdd(view.passkey_site, enrolled),
    h("h2", {}, "Or an authenticator app"),
    totpSetup(enrolled),
    skip);
}

function setup() {
  const form = submitting(h("form", { id: "owner-form", novalidate: true },
    field("The owner's email address", { id: "owner-email", type: "email", autocomplete: "email", required: true }),
    field("Their name", { id: "owner-name", autocomplete: "name", required: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Make the owner's account"))), async () => {
    const email = $("owner-email").value.trim();
    const name = $("owner-name").value.trim();
    if (!email || !name) {
      showError("Enter the owner's email address and name.");
      $(email ? "owner-name" : "owner-email").focus();
      return;
    }
    const made = await act("Making the account…", "POST", "/owner", { email, name });
    if (made && made.invite_url) location.assign(made.invite_url);
  });
  show("Make the owner's account",
    h("p", {}, "This server has no owner yet. The owner is the person who runs it (often the clinic's IT provider): they set up clinics and invite each practice manager and receptionist, who sign in as themselves."),
    h("p", {}, "Next you choose the owner's password and second factor."),
    form);
  $("owner-email").focus();
}
