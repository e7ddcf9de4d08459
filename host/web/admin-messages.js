// Messages: what repbook mailed for this clinic (to reps and to the practice), with what the mail server
// said; a parked message (refused by the server) can be sent again after the fix, or cancelled. Also how the
// server sends mail, and who hears of what at this clinic.
import { $, h, field, table, say, act, get, plural } from "./ui.js";
import { whenIn } from "./words.js";

const KINDS = {
  confirm_address: "Confirm address (rep)", booked: "Booked (rep)", request_received: "Request received (rep)",
  approved: "Approved (rep)", declined: "Declined (rep)", expired: "Released (rep)", changed: "Time changed (rep)",
  cancelled: "Cancelled (rep)", reminder: "Reminder (rep)", recovery: "Links again (rep)",
  request_waiting: "Request waiting (practice)", rep_cancelled: "Rep cancelled (practice)", rep_swapped: "Rep moved (practice)",
  daily_agenda: "Daily agenda (practice)", sync_parked: "Not in the PMS (practice)", sync_resolved: "In the PMS again (practice)",
  site_offline: "PMS offline (practice)", site_back: "PMS back (practice)",
  waitlist_confirm: "Join the waitlist (rep)", waitlist_offer: "A time came free (rep)", waitlist_gone: "Offered time taken (rep)",
};

// The clinic's messages, all pages, newest first.
async function allMessages(ctx) {
  const first = await get(ctx.path("/messages"));
  if (!first) return null;
  let page = first;
  while (page.next_cursor) {
    page = await get(ctx.path(`/messages?cursor=${encodeURIComponent(page.next_cursor)}`));
    if (!page) return null;
    first.messages.push(...page.messages);
  }
  return first.messages;
}

export async function render(ctx) {
  const clinic = await ctx.refresh();
  const [mail, messages] = await Promise.all([get("/mail"), allMessages(ctx)]);
  if (!mail || !messages) return null;
  const zone = clinic.timezone;
  const parked = messages.filter((m) => m.state === "parked");
  const button = (m, verb, label, cls) => h("button", {
    type: "button", class: cls, "aria-label": `${label}: ${m.subject} to ${m.to.join(", ")}`, onclick: async () => {
      if (await act(`${label}…`, "POST", `/messages/${m.id}/${verb}`, {}, verb === "retry" ? `Sending again: ${m.subject}.` : `Cancelled: ${m.subject}.`)) await ctx.rerender();
    },
  }, label);
  const rows = messages.map((m) => [
    whenIn(m.created_at, zone), KINDS[m.kind] || m.kind, m.to.join(", "), m.subject,
    h("span", {}, h("strong", {}, m.state_text), m.tries > 1 ? ` (${plural(m.tries, "try", "tries")})` : ""),
    m.last_reply || "—",
    m.state === "parked" || m.state === "queued"
      ? h("span", { class: "row-actions" }, button(m, "retry", "Send again", "primary"), button(m, "cancel", "Cancel", "danger"))
      : "",
  ]);
  const settings = clinic;
  return [
    h("h2", {}, "Messages"),
    mail.sends_mail
      ? h("p", {}, `Mail goes to ${mail.transport} from ${mail.from}.`)
      : h("p", { class: "warning", id: "mail-off" }, "This server sends no mail. Reps' email addresses are not verified, and nobody is told of bookings, requests or sync trouble. Ask whoever runs the server to set it up (repbook serve --smtp-url … --mail-from …)."),
    parked.length
      ? h("p", { class: "warning", id: "parked-note" }, `${plural(parked.length, "message")} the mail server refused: fix what its reply says (often a mistyped address), then Send again.`)
      : null,
    table(["When", "What", "To", "Subject", "State", "The mail server said", ""], rows, "Messages"),
    h("h2", {}, "Who hears of what"),
    h("form", {
      id: "notify-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const agenda = $("n-agenda").value;
        const body = {
          notify_email: $("n-email").value.split(/[,;\s]+/).map((a) => a.trim()).filter(Boolean),
          reminder_hours: Number($("n-reminder").value),
          daily_agenda_local_time: agenda ? agenda : null,
          confirm_hold_minutes: Number($("n-hold").value),
          mail_display_name: $("n-name").value.trim() || null,
          reply_to: $("n-reply").value.trim() || null,
        };
        if (await act("Saving…", "PATCH", ctx.path(), body, "Saved who hears of what.")) await ctx.rerender();
      },
    },
    field("The practice's email (one or more, separated by commas)", { id: "n-email", value: settings.notify_email.join(", "), maxlength: 2000 },
      "Requests waiting for approval, reps' cancellations and changes, the daily agenda and PMS sync trouble go here."),
    field("Remind reps before their visit (hours; 0 = no reminders)", { id: "n-reminder", type: "number", min: 0, max: 168, value: settings.reminder_hours }),
    field("Mail the day's visits at (empty = never)", { id: "n-agenda", type: "time", value: settings.daily_agenda_local_time || "" }, `${zone} time; only on days with visits.`),
    field("Hold a rep's booking while they confirm their email (minutes)", { id: "n-hold", type: "number", min: 5, max: 1440, value: settings.confirm_hold_minutes }),
    field("Sender's name reps see (empty = the clinic's name)", { id: "n-name", value: settings.mail_display_name || "", maxlength: 120 }),
    field("Replies go to (empty = the practice's first email)", { id: "n-reply", type: "email", value: settings.reply_to || "", maxlength: 254 }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"))),
  ];
}
