// Appointment times: weekly rep-visit times, visitor categories, closed dates and booking links.
import { $, h, field, checkbox, table, say, showError, act, get, WEEKDAYS } from "./ui.js";

// A link's URL is known only in the answer that made or renewed it (repbook keeps its fingerprint):
// shown once, on the next render of this tab.
let fresh = null;

function copyButton(label, url) {
  return h("button", {
    type: "button", "aria-label": `Copy the link for ${label}`, onclick: async () => {
      try {
        await navigator.clipboard.writeText(url);
        say(`Copied the link for ${label}.`);
      } catch (e) {
        showError(`Copy this link by hand: ${url}`);
      }
    },
  }, "Copy");
}

export async function render(ctx) {
  const [timeList, categoryList, closedList, linkList, staffList] = await Promise.all([
    get(ctx.path("/times")), get(ctx.path("/categories")), get(ctx.path("/closed")), get(ctx.path("/links")), get(ctx.path("/staff")),
  ]);
  if (!timeList || !categoryList || !closedList || !linkList || !staffList) return null;
  const categories = categoryList.categories;
  const categoryName = (id) => (categories.find((c) => c.id === id) || { name: id }).name;
  const remove = (label, path, done) => h("button", {
    type: "button", class: "danger", "aria-label": label, onclick: async () => {
      if (await act("Removing…", "DELETE", ctx.path(path), undefined, done)) await ctx.rerender();
    },
  }, "Remove");
  const categoryChecks = (prefix) => categories.length === 0
    ? h("p", { class: "note" }, "No visitor categories yet: every rep sees it.")
    : h("fieldset", {}, h("legend", {}, "Visitor categories (none ticked = every rep)"),
      categories.map((c) => checkbox(c.name, { id: `${prefix}-${c.id}`, value: c.id, class: `${prefix}-cat` })));
  const ticked = (prefix) => [...document.querySelectorAll(`input.${prefix}-cat:checked`)].map((i) => i.value);
  const doctors = staffList.staff;

  const timeRows = timeList.times.map((t) => [
    WEEKDAYS.find(([d]) => d === t.weekday)[1], `${t.start}–${t.end}`, `${t.slot_minutes} min`, t.with,
    t.categories.length ? t.categories.map(categoryName).join(", ") : "Every rep",
    t.approval_required ? "Approval required" : "Instant",
    t.from || t.until ? `${t.from || "…"} to ${t.until || "…"}` : "Every week",
    remove(`Remove ${t.weekday} ${t.start} with ${t.with}`, `/times/${t.id}`, "Removed the time; bookings already made stay."),
  ]);
  const shown = fresh;
  fresh = null;
  const linkRows = linkList.links.map((l) => {
    return [
      l.label,
      l.categories.length ? l.categories.map(categoryName).join(", ") : "Every rep",
      l.revoked ? h("span", { class: "note" }, "Revoked") : h("span", { class: "note" }, "Live"),
      l.revoked ? "" : h("span", { class: "row-actions" },
        h("button", {
          type: "button", "aria-label": `Give the link for ${l.label} a new URL`, onclick: async () => {
            const renewed = await act("Making a new URL…", "POST", ctx.path(`/links/${l.id}/renew`), {}, `The link for ${l.label} has a new URL; the old one no longer works.`);
            if (renewed) {
              fresh = { label: renewed.label, url: new URL(renewed.url, location.origin).href };
              await ctx.rerender();
            }
          },
        }, "New URL"),
        h("button", {
          type: "button", class: "danger", "aria-label": `Revoke the link for ${l.label}`, onclick: async () => {
            if (await act("Revoking…", "DELETE", ctx.path(`/links/${l.id}`), undefined, `Revoked the link for ${l.label}; it no longer works, bookings made through it stay.`)) await ctx.rerender();
          },
        }, "Revoke")),
    ];
  });
  return [
    h("h2", {}, "Weekly rep-visit times"),
    table(["Day", "Time", "Slots", "With", "Visitors", "Booking", "Dates", ""], timeRows, "Weekly times"),
    h("h3", {}, "Publish a time"),
    h("form", {
      id: "time-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const slot = $("t-slot").value;
        const body = {
          weekday: $("t-weekday").value, start: $("t-start").value, end: $("t-end").value,
          slot_minutes: slot ? Number(slot) : null, practitioner_id: $("t-with").value || null,
          categories: ticked("t"), approval_required: $("t-approval").checked,
          from: $("t-from").value || null, until: $("t-until").value || null,
        };
        if (await act("Publishing…", "POST", ctx.path("/times"), body, "Published.")) await ctx.rerender();
      },
    },
    field("Day", { id: "t-weekday", tag: "select", options: WEEKDAYS.map(([v, t]) => [v, t]) }),
    field("From", { id: "t-start", type: "time", value: "12:30", required: true }),
    field("To", { id: "t-end", type: "time", value: "13:30", required: true }),
    field("Slot length (minutes)", { id: "t-slot", type: "number", min: 5, max: 240, placeholder: String(ctx.clinic.appointment_duration_minutes) }, "Empty: the clinic's appointment duration."),
    field("With", { id: "t-with", tag: "select", options: [["", "The whole clinic"]].concat(doctors.map((p) => [p.id, `${p.title} ${p.first_name} ${p.last_name}`.trim()])) }),
    categoryChecks("t"),
    checkbox("Approval required (bookings wait for you on the Requests tab)", { id: "t-approval" }),
    field("First date (optional)", { id: "t-from", type: "date" }),
    field("Last date (optional)", { id: "t-until", type: "date" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Publish the time"))),

    h("h2", {}, "Visitor categories"),
    h("p", {}, "Give a link categories to show its reps only the times for them, e.g. Mondays 12 pm only for “Specialist Services”."),
    table(["Category", ""], categories.map((c) => [c.name, remove(`Remove the category ${c.name}`, `/categories/${c.id}`, `Removed ${c.name}.`)]), "Visitor categories"),
    h("form", {
      id: "category-form",
      class: "inline-form", onsubmit: async (event) => {
        event.preventDefault();
        if (await act("Adding…", "POST", ctx.path("/categories"), { name: $("c-name").value.trim() }, "Category added.")) await ctx.rerender();
      },
    }, h("label", { for: "c-name" }, "New category"), h("input", { id: "c-name", maxlength: 80 }), h("button", { type: "submit" }, "Add")),

    h("h2", {}, "Closed dates"),
    table(["Date", "Reason", ""], closedList.closed.map((c) => [c.date, c.reason, remove(`Reopen ${c.date}`, `/closed/${c.date}`, `${c.date} is open again.`)]), "Closed dates"),
    h("form", {
      id: "closed-form",
      class: "inline-form", onsubmit: async (event) => {
        event.preventDefault();
        if (await act("Closing…", "POST", ctx.path("/closed"), { date: $("cd-date").value, reason: $("cd-reason").value.trim() }, "Date closed to rep visits.")) await ctx.rerender();
      },
    }, h("label", { for: "cd-date" }, "Date"), h("input", { id: "cd-date", type: "date" }),
    h("label", { for: "cd-reason" }, "Reason"), h("input", { id: "cd-reason", maxlength: 200 }), h("button", { type: "submit" }, "Close the date")),

    h("h2", {}, "Booking links"),
    h("p", {}, "Give a link to reps: whoever has it can book the times for its categories. Revoke it to stop it at once. A link's URL is shown only when it is made: repbook keeps a fingerprint of it, not the URL. Lost one? Give it a new URL."),
    shown ? h("div", { class: "notice", id: "new-link", role: "status" },
      h("p", {}, `The URL for ${shown.label}, shown only now: copy it and give it to reps.`),
      h("p", {}, h("code", { class: "url" }, shown.url), " ", copyButton(shown.label, shown.url))) : "",
    table(["Label", "Categories", "Link", ""], linkRows, "Booking links"),
    h("form", {
      id: "link-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const made = await act("Creating…", "POST", ctx.path("/links"), { label: $("l-label").value.trim(), categories: ticked("l") });
        if (made) {
          const url = new URL(made.url, location.origin).href;
          fresh = { label: made.label, url };
          await ctx.rerender();
          say(`Created: ${url}`);
        }
      },
    },
    field("Label", { id: "l-label", maxlength: 120, placeholder: "e.g. Acme territory" }),
    categoryChecks("l"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create a link"))),
  ];
}
