// Sync: the PMS site's health, the queue, parked appointments with what to do, and the actions (Sync
// Appointments, Retry, Reconcile now, reset the connection).
import { h, table, act, get, plural, CONNECTOR_NAMES } from "./ui.js";
import { whenIn } from "./words.js";

export async function render(ctx) {
  const status = await get(ctx.path("/sync"));
  if (!status) return null;
  const site = status.site;
  const siteText = !status.pms_enabled ? "Sending is off"
    : site.paused ? `Offline: deliveries wait while repbook checks it${site.last_error ? ` (${site.last_error})` : ""}`
      : site.held_for_ms ? `Asked to slow down: resuming in ${Math.ceil(site.held_for_ms / 1000)} s`
        : "Online";
  const button = (label, id, path, done, cls) => h("button", {
    type: "button", id, class: cls, onclick: async () => {
      if (await act(`${label}…`, "POST", ctx.path(path), {}, done)) await ctx.rerender();
    },
  }, label);
  return [
    h("h2", {}, "Sync with your PMS"),
    h("dl", { class: "facts" },
      h("dt", {}, "Connector"), h("dd", {}, status.connector ? `${CONNECTOR_NAMES[status.connector] || status.connector}${status.connector_installed ? "" : " (not installed)"}` : "None"),
      h("dt", {}, "Your PMS"), h("dd", { id: "site-status" }, siteText),
      h("dt", {}, "Waiting to send"), h("dd", {}, `${plural(status.outbox, "change")} waiting; ${status.in_flight ? `${status.in_flight} being sent now` : "none being sent now"}`),
      h("dt", {}, "Appointments"), h("dd", { id: "sync-counts" }, `${status.appointments.synced} synced, ${status.appointments.pending} waiting, ${status.appointments.needs_attention} need attention`),
      h("dt", {}, "Last success"), h("dd", {}, site.last_success ? whenIn(site.last_success, ctx.clinic.timezone) : "—")),
    h("div", { class: "actions" },
      button("Sync Appointments", "sync-all", "/sync", (r) => `Queued ${plural(r.queued, "appointment")} for your PMS.`, "primary"),
      button("Retry", "retry-parked", "/sync/retry-parked", (r) => `Queued ${plural(r.queued, "parked appointment")} again.`),
      button("Reconcile now", "reconcile", "/sync/reconcile", (r) => `Reconciled: ${r.missing.length} re-sent, ${r.misplaced.length} moved back, ${r.should_be_cancelled.length + r.duplicated.length + r.unknown.length} cancelled in your PMS.`),
      button("Reset the connection", "reset", "/pms/reset", (r) => `Connection reset and validated; ${plural(r.requeued, "appointment")} queued again.`, "danger")),
    h("h3", {}, "Needs attention"),
    table(["When", "With", "Rep", "Why, and what to do"], status.parked.map((p) => [whenIn(p.start, ctx.clinic.timezone), p.practitioner, p.rep, p.reason || ""]), "Parked appointments"),
  ];
}
