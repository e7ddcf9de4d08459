// The admin page's building blocks: `h()` builds elements (text always through text nodes, never HTML),
// labelled fields, tables, the status line and the error box, and `act()`, which runs one API call and shows
// its refusal as the API said it.

import { call } from "./api.js";

export { plural } from "./words.js";

export const API = "/api/v1";
export const $ = (id) => document.getElementById(id);
export const ZONES = [
  "Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane", "Australia/Adelaide", "Australia/Perth",
  "Australia/Hobart", "Australia/Darwin", "Australia/Lord_Howe", "Australia/Broken_Hill",
];
export const STATES = ["NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "ACT"];
export const WEEKDAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];
export const CONNECTOR_NAMES = { "halo-bp": "Halo Link (Best Practice)", caldav: "CalDAV calendar" };

// h("button", {type: "button", onclick: f}, "Text", child...) -> element
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// A labelled input: field("Name", {id, ...input attributes}, hint?)
export function field(label, attrs, hint) {
  const hintId = hint ? `${attrs.id}-hint` : null;
  const control = attrs.tag === "select"
    ? h("select", { ...attrs, tag: null, options: null, "aria-describedby": hintId },
      ...(attrs.options || []).map(([value, text, selected]) => h("option", { value, selected }, text)))
    : attrs.tag === "textarea"
      ? h("textarea", { ...attrs, tag: null, "aria-describedby": hintId }, attrs.value || "")
      : h("input", { ...attrs, "aria-describedby": hintId });
  return h("div", { class: "field" }, h("label", { for: attrs.id }, label), control, hint ? h("p", { id: hintId, class: "hint" }, hint) : null);
}

export function checkbox(label, attrs) {
  return h("div", { class: "check" }, h("input", { type: "checkbox", ...attrs }), h("label", { for: attrs.id }, label));
}

export function table(headers, rows, caption) {
  if (rows.length === 0) return h("p", { class: "note" }, "None yet.");
  return h("div", { class: "table-wrap" }, h("table", {},
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell)))))));
}

export function say(text) {
  $("status").textContent = text;
}

export function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
  if (message) box.focus();
}

// Runs one action: clears the last error, says what is happening, shows the API's message on refusal.
export async function act(doing, method, path, body, done, raw) {
  showError("");
  say(doing);
  const answer = await request(method, path, body, raw);
  say("");
  if (!answer.ok) {
    showError(answer.message);
    return null;
  }
  if (done) say(typeof done === "function" ? done(answer.data) : done);
  return answer.data ?? {};
}

let signedOut = () => {};

// What to do when the API says the session has ended (the sign-in form comes back).
export function onSignedOut(handler) {
  signedOut = handler;
}

// The refusals that mean the session ended (idle, signed out elsewhere, the account disabled).
const ENDED = ["session_expired", "missing_token", "not_signed_in"];

// Calls /api/v1 + path; an answer saying the session ended brings the sign-in back.
export async function request(method, path, body, raw) {
  const answer = await call(method, API + path, body, raw);
  if (!answer.ok && answer.status === 401 && ENDED.includes(answer.code) && path !== "/session") signedOut();
  return answer;
}

// GET under /api/v1; a refusal shows in the error box and answers null.
export async function get(path) {
  const answer = await request("GET", path);
  if (!answer.ok) {
    showError(answer.message);
    return null;
  }
  return answer.data;
}
