// Today, for the front desk (a tablet at reception): the day's visits in time order with the rep, company
// and doctor, and one tap for what happened: arrived (the time is kept), did not come (after the start),
// or came but nobody could see them; a mark can be taken back the same day. Managers also see the reps
// the clinic's no-show limit pauses, and lift a pause.
import { $, h, field, checkbox, table, act, get } from "./ui.js";
import { wallClock, whenIn } from "./words.js";

const MARKS = [
  ["arrived", "Arrived"],
  ["no_show", "Did not come"],
  ["clinic_unavailable", "Could not see them"],
];
const WORDS = { arrived: "Arrived", no_show: "Did not come", clinic_unavailable: "Came, but nobody could see them" };

export async function render(ctx) {
  const day = await get(`/clinics/${ctx.clinic.id}/today`);
  if (!day) return null;
  const zone = ctx.clinic.timezone;
  const manager = ctx.can("manager");
  const pauses = manager ? await get(`/clinics/${ctx.clinic.id}/no-show-blocks`) : null;
  const visit = (v) => {
    const who = `${v.rep.name} (${v.rep.company})`;
    const time = wallClock(v.local_start).time;
    const mark = v.attendance
      ? h("p", { class: "mark" }, h("strong", {}, WORDS[v.attendance.mark]), ` · ${whenIn(v.attendance.marked_at, zone)}`,
        h("button", {
          type: "button", class: "big", "aria-label": `Undo the mark for ${who} at ${time}`, onclick: async () => {
            if (await act("Taking the mark back…", "DELETE", `/appointments/${v.id}/attendance`, undefined, `The mark for ${v.rep.name} is taken back.`)) await ctx.rerender();
          },
        }, "Undo"))
      : h("div", { class: "actions marks" }, MARKS.map(([mark, label]) => h("button", {
        type: "button", class: mark === "arrived" ? "primary big" : "big", "aria-label": `${label}: ${who} at ${time}`, onclick: async () => {
          if (await act("Marking…", "PUT", `/appointments/${v.id}/attendance`, { mark }, `${v.rep.name}: ${WORDS[mark].toLowerCase()}.`)) await ctx.rerender();
        },
      }, label)));
    return h("li", { class: "visit" },
      h("h3", {}, `${time} · ${v.practitioner_name}`),
      h("p", {}, who, h("br"), h("span", { class: "note" }, v.rep.email)),
      mark);
  };
  return [
    h("h2", {}, `Today, ${wallClock(`${day.date}T00:00`).date}`),
    day.visits.length === 0
      ? h("p", { class: "note" }, "No rep visits today.")
      : h("ul", { class: "visits", id: "today-visits" }, day.visits.map(visit)),
    manager ? [
      h("h2", {}, "Reps paused after no-shows"),
      h("p", {}, ctx.clinic.no_show_limit
        ? `${ctx.clinic.no_show_limit.count} visits not attended within ${ctx.clinic.no_show_limit.days} days pause a rep's bookings through your links for ${ctx.clinic.no_show_limit.block_days} days. No other clinic hears of it.`
        : "No limit is set: no-shows are kept, and pause nobody."),
      limitForm(ctx),
      pauses ? table(["Rep", "Company", "No-shows", "Paused until", ""], pauses.blocks.map((p) => [
        `${p.rep_name} <${p.rep_email}>`, p.company, String(p.no_shows), whenIn(p.until, zone),
        h("button", {
          type: "button", "aria-label": `Lift the pause of ${p.rep_name}`, onclick: async () => {
            if (await act("Lifting…", "DELETE", `/clinics/${ctx.clinic.id}/no-show-blocks/${p.id}`, undefined, `${p.rep_name} can book again.`)) await ctx.rerender();
          },
        }, "Lift"),
      ]), "Paused reps") : null,
    ] : null,
  ];
}

// The clinic's no-show limit: off, or N visits not attended within D days pause a rep for B days.
function limitForm(ctx) {
  const limit = ctx.clinic.no_show_limit || { count: 2, days: 180, block_days: 90 };
  return h("form", {
    id: "no-show-form", class: "grid-form", novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      const on = $("ns-on").checked;
      const body = {
        no_show_limit: on ? { count: Number($("ns-count").value), days: Number($("ns-days").value), block_days: Number($("ns-block").value) } : null,
      };
      if (await act("Saving…", "PATCH", ctx.path(), body, on ? "Saved: reps who do not come are paused." : "Saved: no-shows pause nobody.")) {
        await ctx.refresh();
        await ctx.rerender();
      }
    },
  },
  checkbox("Pause reps who do not come", { id: "ns-on", checked: !!ctx.clinic.no_show_limit }),
  field("Visits not attended", { id: "ns-count", type: "number", min: 1, max: 20, value: limit.count }),
  field("Within (days)", { id: "ns-days", type: "number", min: 1, max: 730, value: limit.days }),
  field("Pause for (days)", { id: "ns-block", type: "number", min: 1, max: 730, value: limit.block_days }),
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Save the limit")));
}
