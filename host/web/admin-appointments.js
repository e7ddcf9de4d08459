// Future appointments: each with where it stands in the PMS; Resend to your PMS, cancel.
import { h, table, say, act, get } from "./ui.js";
import { whenIn } from "./words.js";

function pmsState(pms) {
  switch (pms.state) {
    case "synced": return `Synced${pms.pms_id ? ` (PMS id ${pms.pms_id})` : ""}`;
    case "pending": return "Waiting to be sent";
    case "needs_attention": return `Needs attention: ${pms.reason || "see the Sync tab"}`;
    default: return "Not sent (no PMS or not booked)";
  }
}

export async function render(ctx) {
  const [list, recent] = await Promise.all([ctx.appointments(""), get(ctx.path("/messages?limit=500"))]);
  if (!list) return null;
  // A message about a visit that the mail server refused shows beside the visit.
  const refused = new Map();
  for (const m of (recent ? recent.messages : [])) {
    if (m.state === "parked" && m.appointment_id && !refused.has(m.appointment_id)) refused.set(m.appointment_id, m);
  }
  const rows = list.appointments.map((a) => {
    const live = a.status === "booked";
    const actions = h("span", { class: "row-actions" },
      live ? h("button", {
        type: "button", "aria-label": `Resend to your PMS: ${a.rep.name}, ${whenIn(a.start, ctx.clinic.timezone)}`, onclick: async () => {
          const result = await act("Sending to your PMS…", "POST", `/appointments/${a.id}/resend`, {}, (r) => r.delivered ? "Sent to your PMS." : "Your PMS cannot take it now; it stays queued and is retried by itself.");
          if (result) await ctx.rerender();
        },
      }, "Resend to your PMS") : null,
      live || a.status === "requested" ? h("button", {
        type: "button", class: "danger", "aria-label": `Cancel ${a.rep.name}, ${whenIn(a.start, ctx.clinic.timezone)}`, onclick: async (event) => {
          const button = event.currentTarget;
          if (button.dataset.armed !== "yes") {
            button.dataset.armed = "yes";
            button.textContent = "Yes, cancel";
            button.setAttribute("aria-label", `Yes, cancel ${a.rep.name}, ${whenIn(a.start, ctx.clinic.timezone)}`);
            say("Press “Yes, cancel” to cancel this visit.");
            return;
          }
          if (await act("Cancelling…", "POST", `/appointments/${a.id}/cancel`, {}, "Cancelled; your PMS follows.")) await ctx.rerender();
        },
      }, "Cancel") : null);
    const parked = refused.get(a.id);
    const pms = parked
      ? h("span", {}, pmsState(a.pms), h("p", { class: "reason" }, `Email to ${parked.to.join(", ")} not delivered: ${parked.last_reply || "refused"} (see Messages)`))
      : pmsState(a.pms);
    return [whenIn(a.start, ctx.clinic.timezone), `${a.duration_minutes} min`, a.practitioner_name, `${a.rep.name} (${a.rep.company})`, a.status, pms, actions];
  });
  return [
    h("h2", {}, "Future appointments"),
    table(["When", "Length", "With", "Rep", "Status", "PMS", ""], rows, "Future appointments"),
  ];
}
