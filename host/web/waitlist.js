// The rep's waitlist pages, opened from the links in waitlist mail: /waitlist/<token> (see the place on the
// list, confirm it once, leave it) and /offer/<token> (a freed time: claim it). Opening a page changes
// nothing (mail scanners open every link); each button is one API call whose error message is shown as it is.
import { call } from "./api.js";
import { wallClock } from "./words.js";
import { $, show, focusOn, say, showError } from "./rep.js";

const page = document.body.dataset.page;
const token = location.pathname.split("/")[2] || "";

function untilWords(day) {
  return wallClock(`${day}T00:00`).date;
}

// "Thursday 10 December 2026 at 12:30 pm (Australia/Sydney time)"
function whenWords(localStart, zone) {
  const when = wallClock(localStart);
  return `${when.date} at ${when.time} (${zone} time)`;
}

// ---- /waitlist/<token> ----

function waitlistPage() {
  const path = `/waitlist/${token}`;
  const render = (data) => {
    const entry = data.entry;
    $("clinic-name").textContent = data.clinic.name;
    $("with").textContent = entry.with;
    $("days").textContent = entry.days;
    $("until").textContent = untilWords(entry.until);
    $("who").textContent = `${entry.rep.name}, ${entry.rep.company} (${entry.rep.email})`;
    $("entry-note").textContent = data.message;
    show("confirm-button", entry.status === "unconfirmed");
    show("leave-button", entry.status === "unconfirmed" || entry.status === "waiting");
  };
  const load = async () => {
    const answer = await call("GET", `${path}/entry`);
    if (!answer.ok) {
      showError(answer.message);
      show("entry", false);
      return;
    }
    render(answer.data);
  };
  $("confirm-button").addEventListener("click", async () => {
    showError("");
    $("confirm-button").disabled = true;
    say("Confirming…");
    const answer = await call("POST", `${path}/confirm`);
    $("confirm-button").disabled = false;
    say("");
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    render(answer.data);
    say("Confirmed: you are on the waitlist.");
    focusOn("entry-heading");
  });
  $("leave-button").addEventListener("click", async () => {
    showError("");
    $("leave-button").disabled = true;
    const answer = await call("DELETE", path);
    $("leave-button").disabled = false;
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    render(answer.data);
    say("You left the waitlist; you get no more offers from this clinic.");
    focusOn("entry-heading");
  });
  load();
}

// ---- /offer/<token> ----

function offerPage() {
  const path = `/offer/${token}`;
  $("leave-link").href = `/waitlist/${token}`;
  const load = async () => {
    const answer = await call("GET", `${path}/offer`);
    if (!answer.ok) {
      showError(answer.message);
      show("offered", false);
      return;
    }
    const { offer, clinic } = answer.data;
    $("title").textContent = `A time came free at ${clinic.name}`;
    $("clinic-name").textContent = clinic.name;
    $("when").textContent = `${whenWords(offer.local_start, clinic.timezone)}, ${offer.duration_minutes} minutes`;
    $("with").textContent = offer.with;
    const notes = {
      open: offer.expires_at
        ? `It is held for you until ${whenWords(offer.expires_at.slice(0, 16), clinic.timezone)}; after that it passes to the next rep on the waitlist.`
        : "It was offered to every rep waiting for it: the first to claim it has it.",
      claimed: "You claimed this time: the email that confirmed it has the link to your visit.",
      passed: "This time was held for you for a while and has passed to the next rep on the waitlist.",
      gone: "Another rep took this time first. You stay on the waitlist.",
    };
    $("offer-note").textContent = notes[offer.state] || "";
    show("claim-button", offer.state === "open");
  };
  $("claim-button").addEventListener("click", async () => {
    showError("");
    $("claim-button").disabled = true;
    say("Claiming…");
    const answer = await call("POST", `${path}/claim`);
    $("claim-button").disabled = false;
    say("");
    if (!answer.ok) {
      showError(answer.message);
      await load();
      $("error").focus();
      return;
    }
    const booking = answer.data.appointment;
    const when = wallClock(booking.local_start);
    const requested = answer.data.status === "requested";
    $("claimed-heading").textContent = requested ? "Requested: waiting for the clinic's approval" : "Booked: it is yours";
    $("claimed-summary").textContent = `${when.date} at ${when.time} ${booking.zone} with ${booking.with} at ${booking.clinic.name}, ${booking.minutes} minutes.`;
    const manage = new URL(answer.data.manage_url, location.origin).href;
    $("manage-link").href = manage;
    $("manage-link").textContent = manage;
    show("offered", false);
    show("claimed", true);
    focusOn("claimed-heading");
  });
  load();
}

if (page === "waitlist") waitlistPage();
if (page === "offer") offerPage();
