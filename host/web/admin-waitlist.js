// Waitlist: the reps waiting to hear of a freed time (what they asked for, since when), the offers made and
// what became of them, removing a rep, and how freed times are offered (in turn or to all at once).
import { $, h, field, table, act, get, plural } from "./ui.js";
import { whenIn, wallClock } from "./words.js";

const ENTRY_WORDS = {
  unconfirmed: "Email not confirmed yet", waiting: "Waiting", satisfied: "Booked (off the list)",
  expired: "Past its end date", left: "Left", removed: "Removed by the clinic",
};
const OFFER_WORDS = {
  open: "Offered", claimed: "Claimed", passed: "Not claimed in time (passed on)", gone: "Taken by someone else",
};

export async function render(ctx) {
  const clinic = await ctx.refresh();
  const list = await get(ctx.path("/waitlist"));
  if (!list) return null;
  const zone = clinic.timezone;
  const names = Object.fromEntries(list.entries.map((e) => [e.id, `${e.rep.name} (${e.rep.company})`]));
  const waiting = list.entries.filter((e) => e.status === "waiting" || e.status === "unconfirmed");
  const remove = (e) => h("button", {
    type: "button", class: "danger", "aria-label": `Remove ${e.rep.name} from the waitlist`, onclick: async () => {
      if (await act("Removing…", "DELETE", ctx.path(`/waitlist/${e.id}`), undefined, `${e.rep.name} is off the waitlist.`)) await ctx.rerender();
    },
  }, "Remove");
  const entryRows = list.entries.map((e) => [
    `${e.rep.name} (${e.rep.company}), ${e.rep.email}`, e.with, e.days, wallClock(`${e.until}T00:00`).date,
    e.waiting_since ? whenIn(e.waiting_since, zone) : "—", ENTRY_WORDS[e.status] || e.status,
    e.status === "waiting" || e.status === "unconfirmed" ? remove(e) : "",
  ]);
  const offerRows = list.offers.map((o) => {
    const when = wallClock(o.local_start);
    const held = o.expires_at && o.state === "open" ? `, held until ${whenIn(o.expires_at, zone)}` : "";
    return [`${when.date} at ${when.time} (${zone} time)`, o.with, names[o.entry_id] || "—", `${OFFER_WORDS[o.state] || o.state}${held}`, whenIn(o.created_at, zone)];
  });
  return [
    h("h2", {}, "Waitlist"),
    h("p", {}, `${waiting.length === 0 ? "Nobody is" : `${plural(waiting.length, "rep")} ${waiting.length === 1 ? "is" : "are"}`} waiting. When a time comes free (a visit cancelled, declined or lapsed, times published or a closed date reopened), it is offered to the reps whose wishes it fits.`),
    table(["Rep", "With", "Days", "Until", "Waiting since", "State", ""], entryRows, "Reps on the waitlist"),
    h("h2", {}, "Offers"),
    table(["Time", "With", "Offered to", "What became of it", "Offered"], offerRows, "Offers made"),
    h("h2", {}, "How freed times are offered"),
    h("form", {
      id: "waitlist-form", class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const body = { waitlist_policy: $("w-policy").value, offer_hold_minutes: Number($("w-hold").value) };
        if (await act("Saving…", "PATCH", ctx.path(), body, "Saved how freed times are offered.")) await ctx.rerender();
      },
    },
    field("Offer a freed time", {
      id: "w-policy", tag: "select", options: [
        ["in_turn", "In turn", clinic.waitlist_policy === "in_turn"],
        ["all", "To all at once", clinic.waitlist_policy === "all"],
      ],
    }, "In turn: held for the rep who has waited longest, then the next. To all at once: every matching rep hears, the first to claim it has it."),
    field("In turn: hold it for each rep (minutes)", { id: "w-hold", type: "number", min: 5, max: 10080, value: clinic.offer_hold_minutes },
      "Unclaimed by then, the time passes to the next rep."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"))),
  ];
}
