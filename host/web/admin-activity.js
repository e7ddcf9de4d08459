// Activity: the audit trail for this clinic, newest first — who did what, when and from where (admin
// sign-ins and changes through the page, the CLI or the API; reps' bookings, confirmations, moves and
// cancellations; refusals by the clinic's rules; reps' details removed by retention or on request).
import { h, table, get } from "./ui.js";
import { whenIn } from "./words.js";

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
        whenIn(e.at, zone), e.actor, e.client || "", e.action, e.outcome, e.detail,
      ]), "Activity"),
  ];
}
