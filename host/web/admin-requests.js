// Requests: visits waiting for the clinic's approval; approve (it goes to the PMS) or decline.
import { h, table, act } from "./ui.js";
import { whenIn } from "./words.js";

export async function render(ctx) {
  const list = await ctx.appointments("?status=requested");
  if (!list) return null;
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
  ];
}
