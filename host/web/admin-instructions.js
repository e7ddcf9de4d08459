// Practice instructions: how appointments reach the PMS (and a switch of connector, with the choice for
// what the old PMS holds), and the rules visiting reps follow.
import { $, h, field, say, act, get, plural, CONNECTOR_NAMES } from "./ui.js";

export async function render(ctx) {
  const clinic = await ctx.refresh();
  const plugins = (await get("/plugins")) || { plugins: [] };
  const current = clinic.pms.enabled ? clinic.pms.connector : "";
  const options = [["", "Nothing: do not send appointments to a PMS", current === ""]].concat(
    plugins.plugins.map((p) => [p.name, CONNECTOR_NAMES[p.name] || `${p.name} (${p.pms})`, current === p.name]));
  const via = field("Send appointments via", { id: "send-via", tag: "select", options },
    "Choose how bookings reach your Practice Management Software. Connectors are installed on the Connectors tab.");
  const rules = clinic;
  const number = (label, id, value, min, max, hint) => field(label, { id, type: "number", min, max, value: value ?? "" }, hint);
  return [
    h("h2", {}, "Practice instructions"),
    h("form", {
      id: "via-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const connector = $("send-via").value;
        if (connector && clinic.pms.connector && connector !== clinic.pms.connector) {
          await offerSwitch(ctx, connector);
          return;
        }
        const body = connector
          ? { connector, enabled: true, ...(connector === "halo-bp" ? { send_via: "halo-link" } : {}) }
          : { enabled: false };
        if (await act("Saving…", "PUT", ctx.path("/pms"), body, connector ? `Appointments will be sent via ${CONNECTOR_NAMES[connector] || connector}. Next: Clinic information.` : "Appointments are not sent to a PMS.")) await ctx.rerender();
      },
    }, via, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"))),
    h("div", { id: "switch-box" }),
    h("h2", {}, "For visiting reps"),
    h("form", {
      id: "rules-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const interval = Number($("r-interval").value);
        const body = {
          visiting_instructions: $("r-instructions").value,
          booking_lead_hours: Number($("r-lead").value),
          booking_horizon_days: Number($("r-horizon").value),
          max_open_bookings_per_rep: Number($("r-open").value),
          company_visit_interval_weeks: interval > 0 ? interval : null,
          cancel_cutoff_hours: Number($("r-cancel").value),
          swap_cutoff_hours: Number($("r-swap").value),
          swaps_per_day: Number($("r-swaps").value),
          request_expiry_hours: Number($("r-expiry").value),
          link_daily_cap: Number($("r-cap").value),
        };
        if (await act("Saving…", "PATCH", ctx.path(), body, "Saved the rules for reps.")) await ctx.rerender();
      },
    },
    field("Visiting instructions", { id: "r-instructions", tag: "textarea", rows: 3, maxlength: 2000, value: rules.visiting_instructions },
      "Shown to reps on their booking pages and in their calendar file: parking, where to sign in, what to bring."),
    number("Minimum notice (hours)", "r-lead", rules.booking_lead_hours, 0, 1440, "Times closer than this are not offered."),
    number("Book up to (days ahead)", "r-horizon", rules.booking_horizon_days, 1, 366),
    number("Open bookings per rep", "r-open", rules.max_open_bookings_per_rep, 1, 50),
    number("One visit per company per doctor every (weeks; 0 = no limit)", "r-interval", rules.company_visit_interval_weeks ?? 0, 0, 52),
    number("Reps may cancel up to (hours before)", "r-cancel", rules.cancel_cutoff_hours, 0, 720),
    number("Reps may change the time up to (hours before)", "r-swap", rules.swap_cutoff_hours, 0, 720),
    number("Changes per booking in 24 hours", "r-swaps", rules.swaps_per_day, 1, 50, "Each change is written into your PMS."),
    number("Requests wait for approval for (hours)", "r-expiry", rules.request_expiry_hours, 1, 720),
    number("Bookings per link per day", "r-cap", rules.link_daily_cap, 1, 1000),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save the rules"))),
  ];
}

// Switching to another connector: the choice for what the old PMS holds is shown, then made.
async function offerSwitch(ctx, to) {
  const preview = await get(ctx.path(`/pms/switch?to=${encodeURIComponent(to)}`));
  if (!preview) return;
  const name = (c) => CONNECTOR_NAMES[c] || c;
  const box = $("switch-box");
  box.textContent = "";
  box.append(h("form", {
    id: "switch-form", class: "switch", onsubmit: async (event) => {
      event.preventDefault();
      const choice = document.querySelector("input[name=old-appointments]:checked");
      const body = { connector: to, enabled: true, old_appointments: choice.value, ...(to === "halo-bp" ? { send_via: "halo-link" } : {}) };
      const result = await act("Switching…", "POST", ctx.path("/pms/switch"), body);
      if (!result) return;
      await ctx.rerender();
      say(`Now sending via ${name(to)}: ${plural(result.requeued, "future appointment")} queued; ${result.cancelled_in_old} cancelled and ${result.left_in_old} left in ${name(result.from)}. Next: ${result.next}.`);
    },
  },
  h("h3", { id: "switch-heading", tabindex: "-1" }, `Switch from ${name(preview.from)} to ${name(to)}`),
  h("p", {}, `${plural(preview.future_booked, "future appointment")} will go to ${name(to)}. ${name(preview.from)} holds ${preview.held_by_current} of them now.`),
  h("fieldset", {}, h("legend", {}, `What should happen to the appointments ${name(preview.from)} holds?`),
    preview.choices.map((c, i) => h("div", { class: "check" },
      h("input", { type: "radio", name: "old-appointments", id: `old-${c.old_appointments}`, value: c.old_appointments, checked: i === 0 }),
      h("label", { for: `old-${c.old_appointments}` }, c.description)))),
  h("div", { class: "actions" },
    h("button", { type: "submit", class: "primary" }, `Switch to ${name(to)}`),
    h("button", { type: "button", onclick: () => { box.textContent = ""; $("send-via").focus(); } }, "Keep the current connector"))));
  $("switch-heading").focus();
}
