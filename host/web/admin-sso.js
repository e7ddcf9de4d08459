// Single sign-on (owner only): the host's OpenID Providers (Microsoft 365 through Entra ID, Google, any
// provider), the redirect URI each needs registered, a check that reaches the provider, and the sign-in
// policy: passwords allowed, or single sign-on only with one break-glass owner who keeps a passkey.
import { $, h, field, table, showError, act, get } from "./ui.js";
import { whenIn } from "./words.js";

const CLAIMS = [
  ["email_verified", "email, when the provider says it is verified (Google, most providers)"],
  ["xms_edov", "email with xms_edov (Microsoft Entra ID: the domain is verified by its tenant)"],
  ["upn", "upn (Microsoft Entra ID: the sign-in name)"],
];

export async function render(ctx) {
  const [list, policy] = await Promise.all([get("/sso/providers"), get("/sso/policy")]);
  if (!list || !policy) return null;
  const rows = list.providers.map((p) => [
    h("strong", {}, p.name),
    p.issuer,
    p.client_id,
    h("code", { class: "wrap" }, p.redirect_uri),
    whenIn(p.created_at, ctx.clinic.timezone),
    h("span", { class: "row-actions" },
      h("button", {
        type: "button", "aria-label": `Check ${p.name}`, onclick: async () => {
          await act(`Reaching ${p.name}…`, "POST", `/sso/providers/${p.id}/test`, {}, (r) => `${p.name} answers: ${r.keys} signing key(s), ID tokens in ${r.algorithms.join(", ")}.`);
        },
      }, "Check"),
      h("button", {
        type: "button", class: "danger", "aria-label": `Remove ${p.name}`, onclick: async () => {
          if (await act("Removing…", "DELETE", `/sso/providers/${p.id}`, undefined, `Removed ${p.name}; its sign-in button is gone.`)) await ctx.rerender();
        },
      }, "Remove")),
  ]);
  const add = h("form", {
    id: "sso-add-form", class: "grid-form", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const body = {
        name: $("sso-name").value.trim(),
        issuer: $("sso-issuer").value.trim(),
        client_id: $("sso-client-id").value.trim(),
        client_secret: $("sso-client-secret").value,
        email_claim: $("sso-email-claim").value,
      };
      if (!body.name || !body.issuer || !body.client_id || !body.client_secret) {
        showError("Fill in the name, the issuer, the client id and the client secret.");
        return;
      }
      const added = await act("Adding…", "POST", "/sso/providers", body, (p) => `Added ${p.name}. Register ${p.redirect_uri} as its redirect URI, then Check it.`);
      $("sso-client-secret").value = "";
      if (added) await ctx.rerender();
    },
  },
  field("Button name", { id: "sso-name", maxlength: "60", placeholder: "Microsoft 365" }, "The sign-in page says \"Sign in with\" this."),
  field("Issuer", { id: "sso-issuer", type: "url", spellcheck: "false", placeholder: "https://login.microsoftonline.com/TENANT-ID/v2.0" }, "Entra ID: https://login.microsoftonline.com/ then your tenant's ID, then /v2.0. Google: https://accounts.google.com."),
  field("Client (application) id", { id: "sso-client-id", spellcheck: "false", autocomplete: "off" }),
  field("Client secret", { id: "sso-client-secret", type: "password", autocomplete: "off" }, "Kept apart and never shown again."),
  field("The address comes from", { id: "sso-email-claim", tag: "select", options: CLAIMS.map(([v, t], i) => [v, t, i === 0]) }, "Used once, to find the invited person at their first sign-in; after that the provider's account id alone counts."),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add the provider")));
  const policyForm = h("form", {
    id: "sso-policy-form", class: "grid-form", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const ssoOnly = $("sso-only").checked;
      const body = { password_sign_in: !ssoOnly, break_glass: $("sso-break-glass").value.trim() || null };
      if (await act("Saving…", "PUT", "/sso/policy", body, ssoOnly ? "Single sign-on only: passwords work for the break-glass owner alone, with their passkey." : "Passwords sign in again (with a second factor).")) await ctx.rerender();
    },
  },
  h("fieldset", {}, h("legend", {}, "How people sign in"),
    h("div", { class: "check" }, h("input", { type: "radio", name: "sso-policy", id: "sso-passwords", checked: policy.password_sign_in }), h("label", { for: "sso-passwords" }, "Passwords (with a second factor) and the providers above")),
    h("div", { class: "check" }, h("input", { type: "radio", name: "sso-policy", id: "sso-only", checked: !policy.password_sign_in }), h("label", { for: "sso-only" }, "The providers only"))),
  field("Break-glass owner's email address", { id: "sso-break-glass", type: "email", value: policy.break_glass || "", autocomplete: "off" }, "An owner with a passkey, who can still sign in with their password and passkey if every provider is down."),
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Save the policy")));
  return [
    h("h2", {}, "Single sign-on"),
    h("p", {}, "Staff can sign in with the practice's Microsoft 365 or Google account. The provider proves who someone is; it never makes an account or gives a role: invite people on the People tab first. MFA done at the provider counts; otherwise repbook asks for its own second factor."),
    table(["Provider", "Issuer", "Client id", "Redirect URI", "Added", ""], rows, "Sign-in providers"),
    h("h3", {}, "Add a provider"),
    add,
    h("h3", {}, "Sign-in policy"),
    policyForm,
  ];
}
