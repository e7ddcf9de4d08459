// The clinic's admin page at /: each person signs in as themselves (admin-sign-in.js), then one tab per job
// of theirs at the chosen clinic; a tab or button their role does not allow is not shown (the API refuses
// it anyway). Every action is one API call under /api/v1; a refusal shows the API's own message. No
// framework and no build step: ES modules, one per tab (admin-<tab>.js), each exporting `render(ctx)`.

import { setCsrf } from "./api.js";
import { $, h, say, showError, act, get, request, onSignedOut, ZONES, STATES } from "./ui.js";
import * as signIn from "./admin-sign-in.js";
import * as instructions from "./admin-instructions.js";
import * as clinicInfo from "./admin-clinic.js";
import * as staff from "./admin-staff.js";
import * as times from "./admin-times.js";
import * as requests from "./admin-requests.js";
import * as appointments from "./admin-appointments.js";
import * as sync from "./admin-sync.js";
import * as messages from "./admin-messages.js";
import * as connectors from "./admin-connectors.js";
import * as activity from "./admin-activity.js";
import * as waitlist from "./admin-waitlist.js";
import * as webhooks from "./admin-webhooks.js";
import * as people from "./admin-people.js";
import * as account from "./admin-account.js";
import * as sso from "./admin-sso.js";
import * as today from "./admin-today.js";

const TABS = {
  instructions, clinic: clinicInfo, staff, times, today, requests, waitlist, appointments, sync, messages, webhooks,
  connectors, activity, people, sso, account,
};
const TAB_NAMES = Object.keys(TABS);
// The least role each tab is for (the API checks every call; this only keeps the page tidy).
const NEEDS = {
  instructions: "manager", clinic: "manager", staff: "manager", times: "manager", today: "front_desk", requests: "front_desk",
  waitlist: "front_desk", appointments: "front_desk", sync: "front_desk", messages: "front_desk",
  webhooks: "manager", connectors: "owner", activity: "manager", people: "manager", sso: "owner",
  account: "front_desk",
};
const RANK = { front_desk: 1, manager: 2, owner: 3 };

// What the page is showing: who is signed in, their clinics, the one chosen, the open tab.
// `state` keeps what one render hands the next (a secret shown once after it was made).
const page = { session: null, clinics: [], clinic: null, tab: "instructions", state: {} };

function showOnly(id) {
  for (const section of ["sign-in", "new-clinic", "workspace"]) $(section).hidden = section !== id;
  $("clinic-bar").hidden = id === "sign-in";
}

const isOwner = () => Boolean(page.session && page.session.roles.some((r) => r.role === "owner"));

// The signed-in person's role at a clinic.
function roleAt(clinicId) {
  if (isOwner()) return "owner";
  const role = page.session && page.session.roles.find((r) => r.clinic === clinicId);
  return role ? role.role : null;
}

const allowed = (tab) => RANK[roleAt(page.clinic.id)] >= RANK[NEEDS[tab]];

function showSignIn() {
  page.session = null;
  showOnly("sign-in");
  signIn.start();
}
onSignedOut(showSignIn);

signIn.onSignedIn(async (view) => {
  page.session = view;
  $("who").textContent = view.person ? `Signed in as ${view.person.name}` : "";
  $("add-clinic").hidden = !isOwner();
  await loadClinics();
});

$("sign-out").addEventListener("click", async () => {
  await request("DELETE", "/session");
  setCsrf(null);
  showSignIn();
  say("Signed out.");
});

for (const select of document.querySelectorAll("select.zones")) {
  for (const zone of ZONES) select.append(h("option", { value: zone }, zone));
}
for (const select of document.querySelectorAll("select.states")) {
  for (const s of STATES) select.append(h("option", { value: s }, s));
}

$("add-clinic").addEventListener("click", () => {
  showOnly("new-clinic");
  $("nc-cancel").hidden = page.clinics.length === 0;
  $("new-clinic-heading").focus();
});
$("nc-cancel").addEventListener("click", () => {
  showOnly("workspace");
  focusTab(page.tab);
});
$("new-clinic-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const created = await act("Adding the clinic…", "POST", "/clinics", {
    name: $("nc-name").value.trim(),
    timezone: $("nc-timezone").value,
    state: $("nc-state").value,
    appointment_duration_minutes: Number($("nc-duration").value),
  }, "Clinic added.");
  if (created) await loadClinics(created.id);
});

async function loadClinics(selectId) {
  const answer = await request("GET", "/clinics");
  if (!answer.ok) {
    if (answer.status !== 401) showError(answer.message);
    return;
  }
  page.clinics = answer.data.clinics;
  const select = $("clinic-select");
  select.textContent = "";
  for (const clinic of page.clinics) select.append(h("option", { value: clinic.id }, clinic.name));
  if (page.clinics.length === 0) {
    if (isOwner()) {
      showOnly("new-clinic");
      $("nc-cancel").hidden = true;
      $("new-clinic-heading").focus();
    } else {
      showOnly("sign-in");
      $("sign-in").textContent = "";
      $("sign-in").append(h("h1", { tabindex: "-1" }, "No clinic yet"), h("p", {}, "You have no role at any clinic on this server. Ask your practice manager to invite you again."));
    }
    return;
  }
  const wanted = selectId || fromHash().clinic;
  const clinic = page.clinics.find((c) => c.id === wanted) || page.clinics[0];
  select.value = clinic.id;
  openClinic(clinic, fromHash().tab || page.tab);
}

$("clinic-select").addEventListener("change", () => {
  const clinic = page.clinics.find((c) => c.id === $("clinic-select").value);
  if (clinic) openClinic(clinic, page.tab);
});

function fromHash() {
  const [clinic, tab] = location.hash.replace(/^#\/?/, "").split("/");
  return { clinic, tab: TAB_NAMES.includes(tab) ? tab : null };
}

const visibleTabs = () => TAB_NAMES.filter(allowed);

function openClinic(clinic, tab) {
  page.clinic = clinic;
  $("clinic-title").textContent = clinic.name;
  document.title = `${clinic.name} · repbook`;
  for (const name of TAB_NAMES) $(`tab-${name}`).hidden = !allowed(name);
  showOnly("workspace");
  selectTab(allowed(tab) ? tab : visibleTabs()[0], false);
}

function focusTab(tab) {
  $(`tab-${tab}`).focus();
}

function selectTab(tab, focus) {
  page.tab = tab;
  for (const name of TAB_NAMES) {
    const button = $(`tab-${name}`);
    const selected = name === tab;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`panel-${name}`).hidden = !selected;
  }
  history.replaceState(null, "", `#/${page.clinic.id}/${tab}`);
  if (focus) focusTab(tab);
  render(tab);
}

const tablist = $("tabs");
tablist.addEventListener("click", (event) => {
  const button = event.target.closest("[role=tab]");
  if (button) selectTab(button.id.slice(4), true);
});
// Arrow keys move between the tabs shown (the WAI-ARIA tabs pattern, automatic activation).
tablist.addEventListener("keydown", (event) => {
  const tabs = visibleTabs();
  const at = tabs.indexOf(page.tab);
  const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  selectTab(tabs[(next + tabs.length) % tabs.length], true);
});

// What a tab gets: the clinic it shows, the signed-in person's role there, and the ways to reach the API.
function context() {
  const path = (rest) => `/clinics/${encodeURIComponent(page.clinic.id)}${rest || ""}`;
  const ctx = {
    get clinic() {
      return page.clinic;
    },
    path,
    state: page.state,
    session: page.session,
    role: roleAt(page.clinic.id),
    isOwner: isOwner(),
    // Whether the person's role here allows what needs `role` (buttons a role may not use are not shown).
    can: (role) => RANK[roleAt(page.clinic.id)] >= RANK[role],
    // Reads the clinic again (after a change); answers the fresh copy.
    async refresh() {
      const answer = await request("GET", path());
      if (answer.ok) {
        page.clinic = answer.data;
        const index = page.clinics.findIndex((c) => c.id === answer.data.id);
        if (index >= 0) page.clinics[index] = answer.data;
        $("clinic-title").textContent = answer.data.name;
      }
      return page.clinic;
    },
    rerender: () => render(page.tab),
    // Lists of appointments come in pages; the tabs show the whole list, so follow the cursors.
    async appointments(query) {
      const first = await get(path(`/appointments${query}`));
      if (!first) return null;
      let next = first;
      while (next.next_cursor) {
        const join = query.includes("?") ? "&" : "?";
        next = await get(path(`/appointments${query}${join}cursor=${encodeURIComponent(next.next_cursor)}`));
        if (!next) return null;
        first.appointments.push(...next.appointments);
      }
      return first;
    },
  };
  return ctx;
}

async function render(tab) {
  const panel = $(`panel-${tab}`);
  panel.setAttribute("aria-busy", "true");
  try {
    const content = await TABS[tab].render(context());
    panel.textContent = "";
    panel.append(...[content].flat().filter(Boolean));
  } finally {
    panel.removeAttribute("aria-busy");
  }
}

(async () => {
  const answer = await request("GET", "/session");
  if (!answer.ok) {
    showSignIn();
    return;
  }
  showOnly("sign-in");
  signIn.step(answer.data);
})();
