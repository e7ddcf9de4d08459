// The rep's pages: /book/<link> (choose an open time, give your details, book) and /manage/<token> (see,
// change or cancel one visit). Every action is one API call; its error message is shown as it is. Times are
// the clinic's wall-clock times (from `local_start`) with the zone named, whatever the browser's zone.
import { call } from "./api.js";
import { wallClock } from "./words.js";

const page = document.body.dataset.page;
const capability = location.pathname.split("/")[2] || "";
export const $ = (id) => document.getElementById(id);


export function show(id, visible) {
  $(id).hidden = !visible;
}

export function focusOn(id) {
  const element = $(id);
  if (element) element.focus();
}

export function say(text) {
  $("status").textContent = text;
}

export function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
  if (message) box.focus();
}


function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

// A two-week window of dates (YYYY-MM-DD), moved by the earlier/later buttons.
const range = { from: null };
function windowDays() {
  const from = range.from ? new Date(range.from + "T00:00:00Z") : new Date();
  const to = new Date(from.getTime() + 13 * 86400000);
  return { from: isoDay(from), to: isoDay(to) };
}

function slotLabel(slot) {
  const when = wallClock(slot.local_start);
  const approval = slot.approval_required ? ", needs the clinic's approval" : "";
  return `${when.date} at ${when.time} ${slot.zone}, with ${slot.with}, ${slot.minutes} minutes${approval}`;
}

// Renders slots grouped by day; `pick(slot)` is called with the chosen one.
function renderSlots(slots, pick, verb) {
  const holder = $("slots");
  holder.textContent = "";
  if (slots.length === 0) {
    const p = document.createElement("p");
    p.textContent = "No open times in these two weeks. Try later weeks.";
    holder.append(p);
    return;
  }
  let list = null;
  let currentDay = null;
  for (const slot of slots) {
    const when = wallClock(slot.local_start);
    if (when.day !== currentDay) {
      currentDay = when.day;
      const heading = document.createElement("h3");
      heading.textContent = when.date;
      list = document.createElement("ul");
      list.className = "slots";
      holder.append(heading, list);
    }
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "slot";
    // The accessible name is the visible text plus hidden words around it (WCAG 2.5.3, label in name):
    // "Book Tuesday 1 December 2026 at 12:30 pm AEDT with Dr Ana Ng, 20 minutes".
    const hidden = (text) => {
      const span = document.createElement("span");
      span.className = "visually-hidden";
      span.textContent = text;
      return span;
    };
    const time = document.createElement("span");
    time.className = "slot-time";
    time.textContent = `${when.time} ${slot.zone}`;
    const who = document.createElement("span");
    who.className = "slot-with";
    who.textContent = `with ${slot.with}, ${slot.minutes} minutes${slot.approval_required ? ", needs the clinic's approval" : ""}`;
    button.append(hidden(`${verb} ${when.date} at `), time, " ", who);
    button.addEventListener("click", () => pick(slot));
    item.append(button);
    list.append(item);
  }
}

// Loads and shows the open slots of the two-week window; `keep` filters them (the manage page leaves out the
// visit's own time).
async function loadSlots(path, pick, verb, keep = () => true) {
  const { from, to } = windowDays();
  $("range-label").textContent = `${wallClock(from + "T00:00").date} to ${wallClock(to + "T00:00").date}`;
  say("Loading open times…");
  const answer = await call("GET", `${path}?from=${from}&to=${to}`);
  if (!answer.ok) {
    say("");
    showError(answer.message);
    return null;
  }
  const slots = answer.data.slots.filter(keep);
  renderSlots(slots, pick, verb);
  const check = answer.data.pms_check;
  say(`${slots.length} open times shown.${check && check.note ? ` These times were ${check.note}.` : ""}`);
  return answer.data;
}

function wireRange(reload) {
  $("earlier").addEventListener("click", () => {
    const { from } = windowDays();
    const earlier = new Date(new Date(from + "T00:00:00Z").getTime() - 14 * 86400000);
    const today = new Date();
    range.from = isoDay(earlier < today ? today : earlier);
    reload();
  });
  $("later").addEventListener("click", () => {
    const { to } = windowDays();
    range.from = isoDay(new Date(new Date(to + "T00:00:00Z").getTime() + 86400000));
    reload();
  });
}

export function describeZone(clinic) {
  const city = clinic.timezone.split("/").pop().replace(/_/g, " ");
  return `Times are ${clinic.name}'s local times in ${city} (${clinic.timezone}).`;
}

function showInstructions(clinic) {
  const box = $("instructions");
  if (clinic.visiting_instructions) {
    box.textContent = clinic.visiting_instructions;
    box.hidden = false;
  }
}

// ---- /book/<link> ----

function bookPage() {
  let chosen = null;
  const path = `/book/${capability}`;
  const pick = (slot) => {
    chosen = slot;
    showError("");
    $("chosen").textContent = `You chose ${slotLabel(slot)}.`;
    $("book-button").textContent = slot.approval_required ? "Request this time" : "Book this time";
    show("choose", false);
    show("details", true);
    focusOn("details-heading");
  };
  let waitlistReady = false;
  const reload = async () => {
    const data = await loadSlots(`${path}/slots`, pick, "Book");
    if (data) {
      $("title").textContent = `Book a rep visit at ${data.clinic.name}`;
      document.title = `Book a rep visit · ${data.clinic.name}`;
      $("zone-note").textContent = describeZone(data.clinic);
      showInstructions(data.clinic);
      if (!waitlistReady) {
        waitlistReady = true;
        const form = await call("GET", `${path}/waitlist`);
        if (form.ok && form.data.available) waitlistForm(path, form.data);
      }
    }
  };
  wireRange(reload);
  $("change-time").addEventListener("click", () => {
    show("details", false);
    show("choose", true);
    focusOn("choose-heading");
  });
  $("book-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const fields = [
      ["rep-name", "Enter your name."],
      ["rep-company", "Enter your company."],
      ["rep-email", "Enter your email address, like name@example.com."],
    ];
    let firstInvalid = null;
    for (const [id, message] of fields) {
      const input = $(id);
      const error = $(`${id}-error`);
      const value = input.value.trim();
      const bad = !value || (input.type === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value));
      input.setAttribute("aria-invalid", bad ? "true" : "false");
      error.textContent = bad ? message : "";
      error.hidden = !bad;
      if (bad && !firstInvalid) firstInvalid = input;
    }
    if (firstInvalid) {
      firstInvalid.focus();
      return;
    }
    $("book-button").disabled = true;
    say("Booking…");
    const answer = await call("POST", `${path}/bookings`, {
      start: chosen.local_start,
      practitioner_id: chosen.practitioner_id,
      rep: {
        name: $("rep-name").value.trim(),
        company: $("rep-company").value.trim(),
        email: $("rep-email").value.trim(),
        phone: $("rep-phone").value.trim() || null,
      },
    });
    $("book-button").disabled = false;
    say("");
    if (!answer.ok) {
      showError(answer.message);
      if (answer.status === 409) {
        // The slot went meanwhile: back to the refreshed list, so the next free time is there to choose;
        // the message stays above it and keeps the focus.
        show("details", false);
        show("choose", true);
        await reload();
        $("error").focus();
      }
      return;
    }
    const booking = answer.data.appointment;
    const when = wallClock(booking.local_start);
    const what = `${when.date} at ${when.time} ${booking.zone} with ${booking.with} at ${booking.clinic.name}, ${booking.minutes} minutes.`;
    if (answer.data.status === "held") {
      const until = wallClock(answer.data.hold_until.slice(0, 16));
      $("done-heading").textContent = "Check your email to confirm";
      $("done-summary").textContent = `${what} We sent a link to ${booking.rep.email}: open it and press “Confirm my visit” by ${until.time} on ${until.date}. Until then the time is held for you; without confirmation it is released.`;
      show("done-links", false);
    } else {
      const requested = answer.data.status === "requested";
      $("done-heading").textContent = requested ? "Requested: waiting for the clinic's approval" : "Booked";
      $("done-summary").textContent = `${what}${requested ? " The clinic will approve or decline it; your manage link shows which." : ""}`;
      const manage = new URL(answer.data.manage_url, location.origin).href;
      $("manage-link").href = manage;
      $("manage-link").textContent = manage;
      $("ics-link").href = booking.ics_url;
      show("done-links", true);
    }
    show("details", false);
    show("recover", false);
    show("done", true);
    focusOn("done-heading");
  });
  $("recover-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const email = $("recover-email").value.trim();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      showError("Enter the email address you booked with, like name@example.com.");
      focusOn("recover-email");
      return;
    }
    // The answer goes beside the form the rep just used, not at the top of a long page.
    $("recover-button").disabled = true;
    $("recover-answer").textContent = "Sending…";
    const answer = await call("POST", `${path}/recover`, { email });
    $("recover-button").disabled = false;
    $("recover-answer").textContent = "";
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    $("recover-answer").textContent = answer.data.message;
    $("recover-answer").scrollIntoView({ block: "nearest" });
  });
  reload();
}

// The waitlist form under the times: who, which doctor, which days, until when. One API call; the answer
// (or the refusal, e.g. "2 times that suit you are open now") is shown as it is.
function waitlistForm(path, form) {
  const doctors = $("wl-doctor");
  for (const doctor of form.doctors) {
    const option = document.createElement("option");
    option.value = doctor.id;
    option.textContent = doctor.name;
    doctors.append(option);
  }
  const days = $("wl-days");
  const names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  names.forEach((name, n) => {
    const label = document.createElement("label");
    label.className = "check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = name.slice(0, 3).toLowerCase();
    box.name = "wl-day";
    label.append(box, ` ${name}`);
    days.append(label);
    if (n === 4) days.append(document.createElement("br"));
  });
  const until = $("wl-until");
  until.max = form.until_max;
  until.min = isoDay(new Date());
  until.value = form.until_max;
  $("wl-until-note").textContent = `At most ${wallClock(form.until_max + "T00:00").date}, as far ahead as this clinic takes bookings.`;
  $("waitlist-policy").textContent = form.policy === "in_turn"
    ? `A freed time goes first to the rep who has waited longest, held for ${form.offer_hold_minutes} minutes, then to the next.`
    : "A freed time goes to every rep waiting for it; the first to claim it has it.";
  show("waitlist", true);
  $("waitlist-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    let firstInvalid = null;
    for (const [id, message] of [
      ["wl-name", "Enter your name."],
      ["wl-company", "Enter your company."],
      ["wl-email", "Enter your email address, like name@example.com."],
    ]) {
      const input = $(id);
      const value = input.value.trim();
      const bad = !value || (input.type === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value));
      input.setAttribute("aria-invalid", bad ? "true" : "false");
      $(`${id}-error`).textContent = bad ? message : "";
      $(`${id}-error`).hidden = !bad;
      if (bad && !firstInvalid) firstInvalid = input;
    }
    if (firstInvalid) {
      firstInvalid.focus();
      return;
    }
    $("waitlist-button").disabled = true;
    $("waitlist-answer").textContent = "Sending…";
    const answer = await call("POST", `${path}/waitlist`, {
      rep: { name: $("wl-name").value.trim(), company: $("wl-company").value.trim(), email: $("wl-email").value.trim(), phone: null },
      practitioner_id: doctors.value || null,
      weekdays: [...document.querySelectorAll("input[name=wl-day]:checked")].map((box) => box.value),
      until: until.value,
    });
    $("waitlist-button").disabled = false;
    $("waitlist-answer").textContent = "";
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    $("waitlist-answer").textContent = answer.data.message;
    $("waitlist-answer").scrollIntoView({ block: "nearest" });
  });
}

// ---- /confirm/<token> ----

function confirmPage() {
  const path = `/confirm/${capability}`;
  const describe = (booking) => {
    const when = wallClock(booking.local_start);
    $("clinic-name").textContent = booking.clinic.name;
    $("when").textContent = `${when.date} at ${when.time} ${booking.zone} (${booking.minutes} minutes; ${booking.clinic.timezone} time)`;
    $("with").textContent = booking.with;
    $("who").textContent = `${booking.rep.name}, ${booking.rep.company}`;
    return when;
  };
  const load = async () => {
    const answer = await call("GET", `${path}/visit`);
    if (!answer.ok) {
      showError(answer.message);
      show("pending", false);
      return;
    }
    const booking = answer.data;
    describe(booking);
    if (booking.status === "held") {
      $("hold-note").textContent = "Press the button to confirm this visit with your email address. Until you do, the time is only held for you.";
    } else {
      const said = { booked: "This visit is already confirmed: the link to change or cancel it is in the email that confirmed it.", requested: "This visit is already confirmed and waits for the clinic's approval.", expired: "This time was not confirmed in time and has been released; book again through the clinic's link.", cancelled: "This visit was cancelled." };
      $("hold-note").textContent = said[booking.status] || "";
      show("confirm-button", false);
    }
  };
  $("confirm-button").addEventListener("click", async () => {
    showError("");
    $("confirm-button").disabled = true;
    say("Confirming…");
    const answer = await call("POST", path);
    $("confirm-button").disabled = false;
    say("");
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    const booking = answer.data.appointment;
    const when = describe(booking);
    const requested = answer.data.status === "requested";
    $("confirmed-heading").textContent = requested ? "Confirmed: waiting for the clinic's approval" : "Confirmed: your visit is booked";
    $("confirmed-summary").textContent = `${when.date} at ${when.time} ${booking.zone} with ${booking.with} at ${booking.clinic.name}.${requested ? " The clinic will approve or decline it; we email you either way." : ""}`;
    const manage = new URL(answer.data.manage_url, location.origin).href;
    $("manage-link").href = manage;
    $("manage-link").textContent = manage;
    $("ics-link").href = booking.ics_url;
    show("pending", false);
    show("confirmed", true);
    focusOn("confirmed-heading");
  });
  load();
}

// ---- /manage/<token> ----

function managePage() {
  const path = `/manage/${capability}`;
  const statusText = {
    booked: "Booked",
    requested: "Requested: waiting for the clinic's approval",
    cancelled: "Cancelled",
    declined: "Declined by the clinic",
    expired: "Expired: the clinic did not approve it in time",
  };
  let current = null;
  const render = (booking) => {
    current = booking;
    const when = wallClock(booking.local_start);
    $("clinic-name").textContent = booking.clinic.name;
    $("when").textContent = `${when.date} at ${when.time} ${booking.zone} (${booking.minutes} minutes; ${booking.clinic.timezone} time)`;
    $("with").textContent = booking.with;
    $("state").textContent = statusText[booking.status] || booking.status;
    $("who").textContent = `${booking.rep.name}, ${booking.rep.company}`;
    $("ics-link").href = booking.ics_url;
    showInstructions(booking.clinic);
    const limits = [];
    if (booking.swap_until) limits.push(`You can change the time until ${wallClock(booking.swap_until.slice(0, 16)).date} ${wallClock(booking.swap_until.slice(0, 16)).time}.`);
    if (booking.cancel_until) limits.push(`You can cancel until ${wallClock(booking.cancel_until.slice(0, 16)).date} ${wallClock(booking.cancel_until.slice(0, 16)).time}.`);
    if (!booking.swap_until && !booking.cancel_until && (booking.status === "booked" || booking.status === "requested")) {
      limits.push("It is too late to change or cancel online; please call the clinic.");
    }
    $("limits").textContent = limits.join(" ");
    show("swap-start", Boolean(booking.swap_until));
    show("cancel-start", Boolean(booking.cancel_until));
  };
  const load = async () => {
    const answer = await call("GET", `${path}/booking`);
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    render(answer.data);
  };
  $("cancel-start").addEventListener("click", () => {
    show("summary", false);
    show("confirm-cancel", true);
    focusOn("confirm-cancel-heading");
  });
  $("cancel-keep").addEventListener("click", () => {
    show("confirm-cancel", false);
    show("summary", true);
    focusOn("summary-heading");
  });
  $("cancel-confirm").addEventListener("click", async () => {
    showError("");
    say("Cancelling…");
    const answer = await call("POST", `${path}/cancel`);
    say("");
    show("confirm-cancel", false);
    show("summary", true);
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    render(answer.data);
    say("Your visit is cancelled.");
    focusOn("summary-heading");
  });
  const pick = async (slot) => {
    showError("");
    say("Changing the time…");
    const answer = await call("POST", `${path}/swap`, { start: slot.local_start, practitioner_id: slot.practitioner_id });
    say("");
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    render(answer.data);
    show("swap", false);
    show("summary", true);
    say(`Your visit is now ${slotLabel(slot)}.`);
    focusOn("summary-heading");
  };
  const isCurrent = (slot) =>
    current && slot.local_start === current.local_start && slot.practitioner_id === current.practitioner_id;
  const reload = () => loadSlots(`${path}/slots`, pick, "Move to", (slot) => !isCurrent(slot));
  wireRange(reload);
  $("swap-start").addEventListener("click", async () => {
    show("summary", false);
    show("swap", true);
    focusOn("swap-heading");
    await reload();
  });
  $("swap-back").addEventListener("click", () => {
    show("swap", false);
    show("summary", true);
    focusOn("summary-heading");
  });
  load();
}

if (page === "book") bookPage();
if (page === "manage") managePage();
if (page === "confirm") confirmPage();
