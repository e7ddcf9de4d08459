// Activity: the audit trail for this clinic, newest first — who did what, when and from where (admin
// sign-ins and changes through the page, the CLI or the API; reps' bookings, confirmations, moves and
// cancellations; refusals by the clinic's rules; reps' details removed by retention or on request).
import { h, table, get } from "./ui.js";
import { whenIn } from "./words.js";

// What each recorded action means, in words; anything else shows as recorded.
const C = "/api/v1/clinics/{clinic}";
const WORDS = {
  "POST /api/v1/session": "Signed in", "DELETE /api/v1/session": "Signed out",
  [`PATCH ${C}`]: "Changed the clinic's settings", [`PUT ${C}/pms`]: "Changed the PMS settings",
  [`POST ${C}/pms/validate`]: "Validated the PMS site", [`POST ${C}/pms/reset`]: "Reset the PMS connection",
  [`POST ${C}/pms/switch`]: "Switched the PMS connector",
  [`POST ${C}/staff`]: "Added a doctor", [`POST ${C}/staff/sync`]: "Synced staff with the PMS",
  [`PUT ${C}/staff/{id}/pms`]: "Matched a doctor in the PMS",
  [`POST ${C}/appointments`]: "Booked a visit", "PATCH /api/v1/appointments/{id}": "Moved a visit",
  "POST /api/v1/appointments/{id}/cancel": "Cancelled a visit", "POST /api/v1/appointments/{id}/approve": "Approved a request",
  "POST /api/v1/appointments/{id}/decline": "Declined a request", "POST /api/v1/appointments/{id}/resend": "Resent a visit to the PMS",
  [`POST ${C}/times`]: "Published a time", [`DELETE ${C}/times/{id}`]: "Removed a time",
  [`POST ${C}/categories`]: "Added a visitor category", [`DELETE ${C}/categories/{id}`]: "Removed a visitor category",
  [`POST ${C}/closed`]: "Closed a date", [`DELETE ${C}/closed/{date}`]: "Reopened a date",
  [`POST ${C}/links`]: "Made a booking link", [`DELETE ${C}/links/{id}`]: "Revoked a booking link",
  [`POST ${C}/links/{id}/renew`]: "Gave a booking link a new URL",
  [`POST ${C}/sync/reconcile`]: "Reconciled with the PMS", [`POST ${C}/sync/retry-parked`]: "Retried parked visits",
  "POST /api/v1/messages/{id}/retry": "Sent a message again", "POST /api/v1/messages/{id}/cancel": "Cancelled a message",
  "POST /book/{link}/bookings": "Rep booked", "POST /manage/{token}/swap": "Rep moved their visit",
  "POST /manage/{token}/cancel": "Rep cancelled", "POST /confirm/{token}": "Rep confirmed their address",
  "POST /book/{link}/recover": "Rep asked for their links again",
  "booking refused": "Booking refused by a rule", "rep details removed": "Rep details removed",
  "signed in": "Signed in", "sign-in refused": "Sign-in refused", "second factor refused": "Wrong code",
  "password accepted": "Password accepted; second factor asked", "locked out": "Held back after wrong tries",
  "passkey refused": "Passkey refused", "signed out": "Signed out", "factor added": "Added a second factor",
  "factor removed": "Removed a second factor", "invitation sent": "Invited someone", "invitation sent again": "Sent an invitation again",
  "invitation accepted": "Accepted an invitation", "invitation withdrawn": "Withdrew an invitation", "role given": "Gave a role",
  "role changed": "Changed a role", "person disabled": "Disabled an account", "person enabled": "Enabled an account",
  "factors reset": "Reset someone's second factors", "token made": "Made an API token", "token revoked": "Revoked an API token",
  "password changed": "Changed their password", "password reset": "Reset their password", "password reset asked": "Asked for a password reset",
};

// An answer's status in words; a rule's refusal keeps its code.
function outcome(text) {
  if (/^2\d\d$/.test(text)) return "Done";
  return { 401: "Wrong token", 429: "Too many tries", done: "Done" }[text] || text;
}

const ROLE = { front_desk: "front desk", manager: "practice manager", owner: "owner" };

// Who, as the trail names them, with the role they acted in.
function who(entry) {
  const actor = entry.actor || {};
  return entry.role ? `${actor.name} (as ${ROLE[entry.role] || entry.role})` : actor.name || "";
}

export async function render(ctx) {
  const trail = await get(`/audit?clinic=${encodeURIComponent(ctx.clinic.id)}&limit=200`);
  if (!trail) return null;
  const zone = ctx.clinic.timezone;
  return [
    h("h2", {}, "Activity"),
    h("p", {}, "Who did what at this clinic, newest first. Tokens, links and passwords are never kept here; reps' details leave it when they ask to be forgotten."),
    trail.entries.length === 0
      ? h("p", { class: "note" }, "Nothing yet.")
      : table(["When", "Who", "From", "What", "Outcome", "Detail"], trail.entries.map((e) => [
        whenIn(e.at, zone), who(e), e.client || "", WORDS[e.action] || e.action, outcome(e.outcome), e.detail,
      ]), "Activity"),
  ];
}
