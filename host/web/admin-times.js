// Appointment times: weekly rep-visit times, visitor categories, closed dates and booking links.
import { $, h, field, checkbox, table, say, showError, act, get, WEEKDAYS } from "./ui.js";

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
  const linkRows = linkList.links.map((l) => {
    const url = new URL(l.url, location.origin).href;
    return [
      l.label,
      l.categories.length ? l.categories.map(categoryName).join(", ") : "Every rep",
      l.revoked ? h("span", { class: "note" }, "Revoked") : h("code", { class: "url" }, url),
      l.revoked ? "" : h("span", { class: "row-actions" },
        h("button", {
          type: "button", "aria-label": `Copy the link for ${l.label}`, onclick: async () => {
            try {
              await navigator.clipboard.writeText(url);
              say(`Copied the link for ${l.label}.`);
            } catch (e) {
              showError(`Copy this link by hand: ${url}`);
            }
          },
        }, "Copy"),
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
    h("p", {}, "Give a link to reps: whoever has it can book the times for its categories. Revoke it to stop it at once."),
    table(["Label", "Categories", "Link", ""], linkRows, "Booking links"),
    h("form", {
      id: "link-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const made = await act("Creating…", "POST", ctx.path("/links"), { label: $("l-label").value.trim(), categories: ticked("l") });
        if (made) {
          await ctx.rerender();
          say(`Created: ${new URL(made.url, location.origin).href}`);
        }
      },
    },
    field("Label", { id: "l-label", maxlength: 120, placeholder: "e.g. Acme territory" }),
    categoryChecks("l"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create a link"))),
  ];
}
