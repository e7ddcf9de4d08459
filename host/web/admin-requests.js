// Requests: visits waiting for the clinic's approval; approve (it goes to the PMS) or decline.
import { h, table, act, get } from "./ui.js";
import { whenIn } from "./words.js";

export async function render(ctx) {
  const [list, refused] = await Promise.all([
    ctx.appointments("?status=requested"),
    get(`/audit?clinic=${encodeURIComponent(ctx.clinic.id)}&action=${encodeURIComponent("booking refused")}&limit=50`),
  ]);
  if (!list || !refused) return null;
  const decide = (a, verb, label) => h("button", {
    type: "button", class: verb === "approve" ? "primary" : "danger", "aria-label": `${label} ${a.rep.name}, ${whenIn(a.start, ctx.clinic.timezone)}`,
    onclick: async () => {
      if (await act(`${label}…`, "POST", `/appointments/${a.id}/${verb}`, {}, verb === "approve" ? `Approved: ${a.rep.name} is booked and goes to your PMS.` : `Declined; the time is open again.`)) await ctx.rerender();
    },
  }, label);
  return [
    h("h2", {}, "Requests waiting for approval"),
    table(["When", "With", "Rep", "Email", ""], list.appointments.map((a) => [
      whenIn(a.start, ctx.clinic.timezone), a.practitioner_name, `${a.rep.name} (${a.rep.company})`, a.rep.email,
      h("span", { class: "row-actions" }, decide(a, "approve", "Approve"), decide(a, "decline", "Decline")),
    ]), "Requests"),
    h("h2", {}, "Refused by your rules"),
    h("p", {}, "Bookings a rule of yours turned down (limits per rep, one visit per company per doctor), newest first. The rep was told the same words, which name nobody else."),
    refused.entries.length === 0
      ? h("p", { class: "note" }, "None.")
      : table(["When", "Rule", "What was asked, and why not"], refused.entries.map((e) => [
        whenIn(e.at, ctx.clinic.timezone), e.outcome, e.detail,
      ]), "Refused by your rules"),
  ];
}
