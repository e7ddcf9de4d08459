// The pages of an account's single-use links: accepting an invitation (your name and a password, then on
// to the admin page, which asks for your second factor) and choosing a new password from a reset link. A
// used or expired link shows the API's own words for what to do.
import { call } from "./api.js";
import { whenIn } from "./words.js";

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.pathname.split("/")[2] || "");
const page = document.body.dataset.page;

function say(text) {
  $("status").textContent = text;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
  if (message) box.focus();
}

async function invite() {
  const seen = await call("GET", `/invite/${encodeURIComponent(token)}/invitation`);
  if (!seen.ok) {
    showError(seen.message);
    $("after").hidden = false;
    return;
  }
  const i = seen.data;
  const by = i.invited_by.charAt(0).toUpperCase() + i.invited_by.slice(1);
  $("invited-as").textContent = `${by} invited you to repbook as ${i.roles}. This link works once, until ${whenIn(i.expires_at, i.timezone)}.`;
  $("email").value = i.email;
  $("name").value = i.name;
  $("next-step").textContent = i.second_factor_required
    ? "Next you add a second factor: a passkey, or a code from an authenticator app on your phone."
    : "";
  $("invitation").hidden = false;
  $("name").focus();
  $("accept-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const name = $("name").value.trim();
    const password = $("password").value;
    if (!name || password.length < 12) {
      showError(!name ? "Enter your name." : "Choose a password of at least 12 characters.");
      $(!name ? "name" : "password").focus();
      return;
    }
    say("Setting up your account…");
    const answer = await call("POST", `/invite/${encodeURIComponent(token)}`, { name, password });
    say("");
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    location.assign("/");
  });
}

async function reset() {
  const seen = await call("GET", `/reset/${encodeURIComponent(token)}/reset`);
  if (!seen.ok) {
    showError(seen.message);
    $("after").hidden = false;
    return;
  }
  $("email").value = seen.data.email;
  $("reset").hidden = false;
  $("password").focus();
  $("reset-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const password = $("password").value;
    if (password.length < 12) {
      showError("Choose a password of at least 12 characters.");
      $("password").focus();
      return;
    }
    say("Saving…");
    const answer = await call("POST", `/reset/${encodeURIComponent(token)}`, { password });
    say("");
    if (!answer.ok) {
      showError(answer.message);
      return;
    }
    $("reset").hidden = true;
    say("Your password is changed, and every session was signed out. Sign in with the new one.");
    $("after").hidden = false;
    $("title").focus();
  });
}

if (page === "invite") invite();
else reset();
