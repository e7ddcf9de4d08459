// The clinic's admin page at /: sign in with the API token (a session cookie follows), then one tab per job
// of the practice manager. Every action is one API call under /api/v1; a refusal shows the API's own message.
// No framework: `h()` builds elements, each tab has a render function that fetches what it shows.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
const ZONES = [
  "Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane", "Australia/Adelaide", "Australia/Perth",
  "Australia/Hobart", "Australia/Darwin", "Australia/Lord_Howe", "Australia/Broken_Hill",
];
const STATES = ["NSW", "VIC", "QLD", "SA", "WA", "TAS", "NT", "ACT"];
const WEEKDAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];
const CONNECTOR_NAMES = { "halo-bp": "Halo Link (Best Practice)", caldav: "CalDAV calendar" };
const TABS = ["instructions", "clinic", "staff", "times", "requests", "appointments", "sync", "connectors"];

const state = { csrf: null, clinics: [], clinic: null, tab: "instructions" };

// ---- small helpers ----

// h("button", {type: "button", onclick: f}, "Text", child...) -> element
function h(tag, attrs, ...children) {
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
function field(label, attrs, hint) {
  const hintId = hint ? `${attrs.id}-hint` : null;
  const control = attrs.tag === "select"
    ? h("select", { ...attrs, tag: null, options: null, "aria-describedby": hintId },
      ...(attrs.options || []).map(([value, text, selected]) => h("option", { value, selected }, text)))
    : attrs.tag === "textarea"
      ? h("textarea", { ...attrs, tag: null, "aria-describedby": hintId }, attrs.value || "")
      : h("input", { ...attrs, "aria-describedby": hintId });
  return h("div", { class: "field" }, h("label", { for: attrs.id }, label), control, hint ? h("p", { id: hintId, class: "hint" }, hint) : null);
}

function checkbox(label, attrs) {
  return h("div", { class: "check" }, h("input", { type: "checkbox", ...attrs }), h("label", { for: attrs.id }, label));
}

function table(headers, rows, caption) {
  if (rows.length === 0) return h("p", { class: "note" }, "None yet.");
  return h("div", { class: "table-wrap" }, h("table", {},
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell)))))));
}

function say(text) {
  $("status").textContent = text;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
  if (message) box.focus();
}

async function call(method, path, body, raw) {
  const headers = { Accept: "application/json" };
  const options = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  if (raw) {
    headers["Content-Type"] = raw.type;
    options.body = raw.body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, options);
  } catch (e) {
    return { ok: false, message: "repbook cannot be reached; is the server running?" };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `The request failed (HTTP ${response.status}).`;
    if (response.status === 401 && path !== "/session") showSignIn();
    return { ok: false, status: response.status, code: data && data.error ? data.error.code : null, message };
  }
  return { ok: true, data };
}

// Runs one action: clears the last error, says what is happening, shows the API's message on refusal.
async function act(doing, method, path, body, done, raw) {
  showError("");
  say(doing);
  const answer = await call(method, path, body, raw);
  say("");
  if (!answer.ok) {
    showError(answer.message);
    return null;
  }
  if (done) say(typeof done === "function" ? done(answer.data) : done);
  return answer.data ?? {};
}

function clinicPath(rest) {
  return `/clinics/${encodeURIComponent(state.clinic.id)}${rest || ""}`;
}

function localWhen(localStart) {
  const [day, clock] = localStart.split("T");
  const [y, m, d] = day.split("-").map(Number);
  const weekday = new Date(Date.UTC(y, m - 1, d)).toLocaleDateString("en-AU", { weekday: "short", timeZone: "UTC" });
  return `${weekday} ${day} ${clock}`;
}

function pmsState(pms) {
  switch (pms.state) {
    case "synced": return `Synced${pms.pms_id ? ` (PMS id ${pms.pms_id})` : ""}`;
    case "pending": return "Waiting to be sent";
    case "needs_attention": return `Needs attention: ${pms.reason || "see the Sync tab"}`;
    default: return "Not sent (no PMS or not booked)";
  }
}

// ---- sign-in, clinics, tabs ----

function showOnly(id) {
  for (const section of ["sign-in", "new-clinic", "workspace"]) $(section).hidden = section !== id;
  $("clinic-bar").hidden = id === "sign-in";
}

function showSignIn() {
  state.csrf = null;
  showOnly("sign-in");
  $("token").focus();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (!token) {
    showError("Enter the API token.");
    $("token").focus();
    return;
  }
  const data = await act("Signing in…", "POST", "/session", { token });
  if (!data) return;
  $("token").value = "";
  state.csrf = data.csrf_token;
  await loadClinics();
});

$("sign-out").addEventListener("click", async () => {
  await call("DELETE", "/session");
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
  $("nc-cancel").hidden = state.clinics.length === 0;
  $("new-clinic-heading").focus();
});
$("nc-cancel").addEventListener("click", () => {
  showOnly("workspace");
  focusTab(state.tab);
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
  const answer = await call("GET", "/clinics");
  if (!answer.ok) {
    if (answer.status !== 401) showError(answer.message);
    return;
  }
  state.clinics = answer.data.clinics;
  const select = $("clinic-select");
  select.textContent = "";
  for (const clinic of state.clinics) select.append(h("option", { value: clinic.id }, clinic.name));
  if (state.clinics.length === 0) {
    showOnly("new-clinic");
    $("nc-cancel").hidden = true;
    $("new-clinic-heading").focus();
    return;
  }
  const wanted = selectId || fromHash().clinic;
  const clinic = state.clinics.find((c) => c.id === wanted) || state.clinics[0];
  select.value = clinic.id;
  openClinic(clinic, fromHash().tab || state.tab);
}

$("clinic-select").addEventListener("change", () => {
  const clinic = state.clinics.find((c) => c.id === $("clinic-select").value);
  if (clinic) openClinic(clinic, state.tab);
});

function fromHash() {
  const [clinic, tab] = location.hash.replace(/^#\/?/, "").split("/");
  return { clinic, tab: TABS.includes(tab) ? tab : null };
}

function openClinic(clinic, tab) {
  state.clinic = clinic;
  $("clinic-title").textContent = clinic.name;
  document.title = `${clinic.name} · repbook`;
  showOnly("workspace");
  selectTab(tab, false);
}

async function refreshClinic() {
  const answer = await call("GET", clinicPath());
  if (answer.ok) {
    state.clinic = answer.data;
    const index = state.clinics.findIndex((c) => c.id === answer.data.id);
    if (index >= 0) state.clinics[index] = answer.data;
    $("clinic-title").textContent = answer.data.name;
  }
  return state.clinic;
}

function focusTab(tab) {
  $(`tab-${tab}`).focus();
}

function selectTab(tab, focus) {
  state.tab = tab;
  for (const name of TABS) {
    const button = $(`tab-${name}`);
    const selected = name === tab;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`panel-${name}`).hidden = !selected;
  }
  history.replaceState(null, "", `#/${state.clinic.id}/${tab}`);
  if (focus) focusTab(tab);
  render(tab);
}

const tablist = $("tabs");
tablist.addEventListener("click", (event) => {
  const button = event.target.closest("[role=tab]");
  if (button) selectTab(button.id.slice(4), true);
});
// Arrow keys move between tabs (the WAI-ARIA tabs pattern, automatic activation).
tablist.addEventListener("keydown", (event) => {
  const at = TABS.indexOf(state.tab);
  const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  selectTab(TABS[(next + TABS.length) % TABS.length], true);
});

async function render(tab) {
  const panel = $(`panel-${tab}`);
  const renderers = { instructions, clinic: clinicInfo, staff, times, requests, appointments, sync, connectors };
  panel.setAttribute("aria-busy", "true");
  try {
    const content = await renderers[tab]();
    panel.textContent = "";
    panel.append(...[content].flat().filter(Boolean));
  } finally {
    panel.removeAttribute("aria-busy");
  }
}

function rerender() {
  return render(state.tab);
}

async function get(path) {
  const answer = await call("GET", path);
  if (!answer.ok) {
    showError(answer.message);
    return null;
  }
  return answer.data;
}

// Lists of appointments come in pages; the tabs show the whole list, so follow the cursors.
async function allAppointments(query) {
  const path = clinicPath(`/appointments${query}`);
  const first = await get(path);
  if (!first) return null;
  let page = first;
  while (page.next_cursor) {
    const join = path.includes("?") ? "&" : "?";
    page = await get(`${path}${join}cursor=${encodeURIComponent(page.next_cursor)}`);
    if (!page) return null;
    first.appointments.push(...page.appointments);
  }
  return first;
}

// ---- Practice instructions ----

async function instructions() {
  const clinic = await refreshClinic();
  const plugins = (await get("/plugins")) || { plugins: [] };
  const current = clinic.pms.enabled ? clinic.pms.connector : "";
  const options = [["", "Nothing: do not send appointments to a PMS", current === ""]].concat(
    plugins.plugins.map((p) => [p.name, CONNECTOR_NAMES[p.name] || `${p.name} (${p.pms})`, current === p.name]));
  const via = field("Send appointments via", { id: "send-via", tag: "select", options },
    "Choose how bookings reach your Practice Management Software. Connectors are installed on the Connectors tab.");
  const rules = clinic;
  const number = (label, id, value, min, max, hint) => field(label, { id, type: "number", min, max, value: value ?? "" }, hint);
  return [
    h("h2", {}, "Practice instructions"),
    h("form", {
      id: "via-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const connector = $("send-via").value;
        if (connector && clinic.pms.connector && connector !== clinic.pms.connector) {
          await offerSwitch(connector);
          return;
        }
        const body = connector
          ? { connector, enabled: true, ...(connector === "halo-bp" ? { send_via: "halo-link" } : {}) }
          : { enabled: false };
        if (await act("Saving…", "PUT", clinicPath("/pms"), body, connector ? `Appointments will be sent via ${CONNECTOR_NAMES[connector] || connector}. Next: Clinic information.` : "Appointments are not sent to a PMS.")) await rerender();
      },
    }, via, h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"))),
    h("div", { id: "switch-box" }),
    h("h2", {}, "For visiting reps"),
    h("form", {
      id: "rules-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const interval = Number($("r-interval").value);
        const body = {
          visiting_instructions: $("r-instructions").value,
          booking_lead_hours: Number($("r-lead").value),
          booking_horizon_days: Number($("r-horizon").value),
          max_open_bookings_per_rep: Number($("r-open").value),
          company_visit_interval_weeks: interval > 0 ? interval : null,
          cancel_cutoff_hours: Number($("r-cancel").value),
          swap_cutoff_hours: Number($("r-swap").value),
          request_expiry_hours: Number($("r-expiry").value),
          link_daily_cap: Number($("r-cap").value),
        };
        if (await act("Saving…", "PATCH", clinicPath(), body, "Saved the rules for reps.")) await rerender();
      },
    },
    field("Visiting instructions", { id: "r-instructions", tag: "textarea", rows: 3, maxlength: 2000, value: rules.visiting_instructions },
      "Shown to reps on their booking pages and in their calendar file: parking, where to sign in, what to bring."),
    number("Minimum notice (hours)", "r-lead", rules.booking_lead_hours, 0, 1440, "Times closer than this are not offered."),
    number("Book up to (days ahead)", "r-horizon", rules.booking_horizon_days, 1, 366),
    number("Open bookings per rep", "r-open", rules.max_open_bookings_per_rep, 1, 50),
    number("One visit per company per doctor every (weeks; 0 = no limit)", "r-interval", rules.company_visit_interval_weeks ?? 0, 0, 52),
    number("Reps may cancel up to (hours before)", "r-cancel", rules.cancel_cutoff_hours, 0, 720),
    number("Reps may change the time up to (hours before)", "r-swap", rules.swap_cutoff_hours, 0, 720),
    number("Requests wait for approval for (hours)", "r-expiry", rules.request_expiry_hours, 1, 720),
    number("Bookings per link per day", "r-cap", rules.link_daily_cap, 1, 1000),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save the rules"))),
  ];
}

// Switching to another connector: the choice for what the old PMS holds is shown, then made.
async function offerSwitch(to) {
  const preview = await get(clinicPath(`/pms/switch?to=${encodeURIComponent(to)}`));
  if (!preview) return;
  const name = (c) => CONNECTOR_NAMES[c] || c;
  const box = $("switch-box");
  box.textContent = "";
  box.append(h("form", {
    id: "switch-form", class: "switch", onsubmit: async (event) => {
      event.preventDefault();
      const choice = document.querySelector("input[name=old-appointments]:checked");
      const body = { connector: to, enabled: true, old_appointments: choice.value, ...(to === "halo-bp" ? { send_via: "halo-link" } : {}) };
      const result = await act("Switching…", "POST", clinicPath("/pms/switch"), body);
      if (!result) return;
      await rerender();
      say(`Now sending via ${name(to)}: ${result.requeued} future appointment(s) queued; ${result.cancelled_in_old} cancelled and ${result.left_in_old} left in ${name(result.from)}. Next: ${result.next}.`);
    },
  },
  h("h3", { id: "switch-heading", tabindex: "-1" }, `Switch from ${name(preview.from)} to ${name(to)}`),
  h("p", {}, `${preview.future_booked} future appointment(s) will go to ${name(to)}. ${name(preview.from)} holds ${preview.held_by_current} of them now.`),
  h("fieldset", {}, h("legend", {}, `What should happen to the appointments ${name(preview.from)} holds?`),
    preview.choices.map((c, i) => h("div", { class: "check" },
      h("input", { type: "radio", name: "old-appointments", id: `old-${c.old_appointments}`, value: c.old_appointments, checked: i === 0 }),
      h("label", { for: `old-${c.old_appointments}` }, c.description)))),
  h("div", { class: "actions" },
    h("button", { type: "submit", class: "primary" }, `Switch to ${name(to)}`),
    h("button", { type: "button", onclick: () => { box.textContent = ""; $("send-via").focus(); } }, "Keep the current connector"))));
  $("switch-heading").focus();
}

// ---- Clinic information ----

async function clinicInfo() {
  const clinic = await refreshClinic();
  const pms = clinic.pms;
  const plugins = (await get("/plugins")) || { plugins: [] };
  const connector = plugins.plugins.find((p) => p.name === pms.connector);
  const parts = [
    h("h2", {}, "Clinic information"),
    h("form", {
      id: "details-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const body = {
          name: $("ci-name").value.trim(),
          timezone: $("ci-timezone").value,
          state: $("ci-state").value,
          appointment_duration_minutes: Number($("ci-duration").value),
        };
        if (await act("Saving…", "PATCH", clinicPath(), body, "Saved the clinic's details.")) {
          await refreshClinic();
          $("clinic-select").selectedOptions[0].textContent = state.clinic.name;
          await rerender();
        }
      },
    },
    field("Clinic name", { id: "ci-name", value: clinic.name, maxlength: 200 }),
    field("Time zone", { id: "ci-timezone", tag: "select", options: ZONES.map((z) => [z, z, z === clinic.timezone]) }, "Every time repbook shows is this zone's local time."),
    field("State or territory", { id: "ci-state", tag: "select", options: STATES.map((s) => [s, s, s === clinic.state]) }),
    field("Appointment duration (minutes)", { id: "ci-duration", type: "number", min: 5, max: 240, value: clinic.appointment_duration_minutes }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save details"))),
    h("h2", {}, "Your PMS"),
  ];
  if (!pms.connector) {
    parts.push(h("p", {}, "Choose how appointments reach your PMS on the Practice instructions tab first."));
    return parts;
  }
  parts.push(
    h("p", {}, `Connector: ${CONNECTOR_NAMES[pms.connector] || pms.connector}${connector ? "" : " (not installed: see the Connectors tab)"}.`),
    checkbox("Send appointments to your PMS (the Halo configuration switch)", {
      id: "pms-enabled", checked: pms.enabled, onchange: async (event) => {
        const enabled = event.target.checked;
        if (!(await act("Saving…", "PUT", clinicPath("/pms"), { enabled }, enabled ? "Sending to your PMS is on." : "Sending to your PMS is off."))) event.target.checked = !enabled;
      },
    }),
    h("form", {
      id: "site-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const body = { site_id: $("site-id").value.trim() };
        const pairing = $("pairing-code") ? $("pairing-code").value.trim() : "";
        if (pairing) body.pairing_code = pairing;
        if (!(await act("Saving…", "PUT", clinicPath("/pms"), body))) return;
        const result = await act("Validating with your PMS…", "POST", clinicPath("/pms/validate"), {});
        await rerender();
        if (result) {
          say(`Valid: ${result.site.practice_name} (${result.site.availability}). Now choose the practice location.`);
          const location = $("location");
          if (location) location.focus();
        } else {
          // The re-render cleared the message area's focus target; show the refusal again, as the API said it.
          const box = $("error");
          if (!box.hidden) box.focus();
        }
      },
    },
    field(pms.connector === "halo-bp" ? "BP Site ID" : "Site or calendar ID", { id: "site-id", value: pms.site_id || "", maxlength: 64, spellcheck: "false" },
      pms.connector === "halo-bp" ? "In Bp Premier: Setup > Configuration > Integrations. Validating fails while Halo Link is not installed and running." : null),
    pms.connector === "halo-bp" ? field(`Pairing code${pms.pairing_code_set ? " (set; leave empty to keep)" : ""}`, { id: "pairing-code", maxlength: 64, autocomplete: "off" }) : null,
    h("p", { class: "validity", id: "site-state" }, pms.validated ? "Site validated." : "Not validated yet."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "validate" }, "Validate"))),
  );
  if (pms.validated) {
    const list = await get(clinicPath("/pms/locations"));
    const locations = list ? list.locations : [];
    parts.push(h("form", {
      id: "location-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const id = Number($("location").value);
        const chosen = locations.find((l) => l.id === id);
        if (await act("Saving…", "PUT", clinicPath("/pms"), { location_id: id, location_name: chosen ? chosen.name : undefined }, `Practice location: ${chosen ? chosen.name : id}.`)) await rerender();
      },
    },
    field("Practice location", { id: "location", tag: "select", options: locations.map((l) => [String(l.id), l.name, l.id === pms.location_id]) },
      pms.location_id ? `Chosen: ${pms.location_name || pms.location_id}.` : "Not chosen yet: appointments wait until it is."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save location"))));
  } else {
    parts.push(h("p", { class: "note" }, "The practice location is offered once the site is valid."));
  }
  if (connector && connector.settings.length) {
    parts.push(h("h3", {}, "Connector settings"), h("form", {
      id: "settings-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const settings = {};
        for (const spec of connector.settings) {
          const value = $(`setting-${spec.name}`).value.trim();
          if (spec.secret && value === "") continue;
          settings[spec.name] = value;
        }
        if (await act("Saving…", "PUT", clinicPath("/pms"), { settings }, "Saved the connector settings.")) await rerender();
      },
    },
    connector.settings.map((spec) => {
      const isSet = pms.secrets_set.includes(spec.name);
      const label = `${spec.name}${spec.required ? "" : " (optional)"}${spec.secret ? (isSet ? " (secret, set; leave empty to keep)" : " (secret)") : ""}`;
      return field(label, {
        id: `setting-${spec.name}`, type: spec.secret ? "password" : "text", autocomplete: spec.secret ? "off" : null,
        value: spec.secret ? "" : (pms.settings[spec.name] ?? ""), placeholder: spec.default_value || null,
      }, spec.description);
    }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save settings"))));
  }
  return parts;
}

// ---- My medical staff ----

const LINK_STATES = {
  synced: "Synced with your PMS",
  unsynced: "Not synced yet: press Sync Staff",
  not_in_pms: "Not found in your PMS",
  ahpra_mismatch: "AHPRA number does not match",
  needs_mapping: "Map by hand",
};

async function staff() {
  const [list, diaries] = await Promise.all([get(clinicPath("/staff")), get(clinicPath("/availability"))]);
  if (!list) return null;
  const diaryOf = (id) => (diaries && diaries.reads_diaries ? diaries.doctors.find((d) => d.practitioner_id === id) : null);
  const rows = list.staff.map((p) => {
    const status = h("div", {}, h("strong", {}, LINK_STATES[p.pms.state] || p.pms.state), p.pms.manual ? " (mapped by hand)" : "",
      p.pms.reason && p.pms.state !== "synced" ? h("p", { class: "reason" }, p.pms.reason) : null);
    const inputId = `map-${p.id}`;
    const name = `${p.title} ${p.first_name} ${p.last_name}`.trim();
    const map = h("form", {
      class: "inline-form", onsubmit: async (event) => {
        event.preventDefault();
        const value = $(inputId).value.trim();
        if (!/^[0-9]+$/.test(value)) {
          showError(`Enter the PMS user id for ${name} (a number, from your PMS's user list).`);
          $(inputId).focus();
          return;
        }
        if (await act("Mapping…", "PUT", clinicPath(`/staff/${p.id}/pms`), { user_id: Number(value) }, `Mapped ${name} to PMS user ${value}.`)) await rerender();
      },
    }, h("label", { for: inputId, class: "visually-hidden" }, `PMS user id for ${p.title} ${p.first_name} ${p.last_name}`),
    h("input", { id: inputId, type: "number", min: 1, value: p.pms.user_id ?? "", class: "narrow", placeholder: "PMS user id" }),
    h("button", { type: "submit", id: `map-button-${p.id}`, "aria-label": `Map ${name}` }, "Map"),
    p.pms.manual ? h("button", {
      type: "button", onclick: async () => {
        if (await act("Clearing…", "PUT", clinicPath(`/staff/${p.id}/pms`), { user_id: null }, "Cleared the mapping.")) await rerender();
      },
    }, "Clear") : null);
    const diary = diaryOf(p.id);
    const diaryText = !diary ? "—"
      : diary.last_error ? `Not read: ${diary.last_error}`
        : diary.last_read ? `Read ${diary.last_read.slice(0, 16).replace("T", " ")}` : "Not read yet";
    return [`${p.title} ${p.first_name} ${p.last_name}`.trim(), p.ahpra, status, diaryText, map];
  });
  return [
    h("h2", {}, "My medical staff"),
    h("p", {}, "Doctors are matched to your PMS by AHPRA number, which must match exactly. Where your PMS does not tell repbook the number, map the doctor by hand."),
    h("div", { class: "actions" }, h("button", {
      type: "button", class: "primary", id: "sync-staff", onclick: async () => {
        const result = await act("Syncing staff with your PMS…", "POST", clinicPath("/staff/sync"), {}, (r) => `Sync Staff: ${r.summary.synced} synced, ${r.summary.ahpra_mismatch} AHPRA mismatch, ${r.summary.not_in_pms} not in the PMS, ${r.summary.needs_mapping} to map by hand.`);
        if (result) await rerender();
      },
    }, "Sync Staff")),
    table(["Doctor", "AHPRA", "PMS", "Diary in the PMS", "Map to a PMS user"], rows, "Medical staff"),
    h("h3", {}, "Add a doctor"),
    h("form", {
      id: "add-doctor-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const body = { title: $("s-title").value.trim(), first_name: $("s-first").value.trim(), last_name: $("s-last").value.trim(), ahpra: $("s-ahpra").value.trim() };
        if (await act("Adding…", "POST", clinicPath("/staff"), body, "Doctor added. Press Sync Staff to match them in your PMS.")) await rerender();
      },
    },
    field("Title", { id: "s-title", value: "Dr", maxlength: 20 }),
    field("First name", { id: "s-first", required: true, "aria-required": "true", maxlength: 100 }),
    field("Last name", { id: "s-last", required: true, "aria-required": "true", maxlength: 100 }),
    field("AHPRA number", { id: "s-ahpra", required: true, "aria-required": "true", maxlength: 13, placeholder: "MED0001234567", spellcheck: "false" }, "Three letters and ten digits, exactly as in the AHPRA register."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add the doctor"))),
  ];
}

// ---- Appointment times ----

async function times() {
  const [timeList, categoryList, closedList, linkList, staffList] = await Promise.all([
    get(clinicPath("/times")), get(clinicPath("/categories")), get(clinicPath("/closed")), get(clinicPath("/links")), get(clinicPath("/staff")),
  ]);
  if (!timeList || !categoryList || !closedList || !linkList || !staffList) return null;
  const categories = categoryList.categories;
  const categoryName = (id) => (categories.find((c) => c.id === id) || { name: id }).name;
  const remove = (label, path, done) => h("button", {
    type: "button", class: "danger", "aria-label": label, onclick: async () => {
      if (await act("Removing…", "DELETE", clinicPath(path), undefined, done)) await rerender();
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
            if (await act("Revoking…", "DELETE", clinicPath(`/links/${l.id}`), undefined, `Revoked the link for ${l.label}; it no longer works, bookings made through it stay.`)) await rerender();
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
        if (await act("Publishing…", "POST", clinicPath("/times"), body, "Published.")) await rerender();
      },
    },
    field("Day", { id: "t-weekday", tag: "select", options: WEEKDAYS.map(([v, t]) => [v, t]) }),
    field("From", { id: "t-start", type: "time", value: "12:30", required: true }),
    field("To", { id: "t-end", type: "time", value: "13:30", required: true }),
    field("Slot length (minutes)", { id: "t-slot", type: "number", min: 5, max: 240, placeholder: String(state.clinic.appointment_duration_minutes) }, "Empty: the clinic's appointment duration."),
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
        if (await act("Adding…", "POST", clinicPath("/categories"), { name: $("c-name").value.trim() }, "Category added.")) await rerender();
      },
    }, h("label", { for: "c-name" }, "New category"), h("input", { id: "c-name", maxlength: 80 }), h("button", { type: "submit" }, "Add")),

    h("h2", {}, "Closed dates"),
    table(["Date", "Reason", ""], closedList.closed.map((c) => [c.date, c.reason, remove(`Reopen ${c.date}`, `/closed/${c.date}`, `${c.date} is open again.`)]), "Closed dates"),
    h("form", {
      id: "closed-form",
      class: "inline-form", onsubmit: async (event) => {
        event.preventDefault();
        if (await act("Closing…", "POST", clinicPath("/closed"), { date: $("cd-date").value, reason: $("cd-reason").value.trim() }, "Date closed to rep visits.")) await rerender();
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
        const made = await act("Creating…", "POST", clinicPath("/links"), { label: $("l-label").value.trim(), categories: ticked("l") });
        if (made) {
          await rerender();
          say(`Created: ${new URL(made.url, location.origin).href}`);
        }
      },
    },
    field("Label", { id: "l-label", maxlength: 120, placeholder: "e.g. Acme territory" }),
    categoryChecks("l"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create a link"))),
  ];
}

// ---- Requests ----

async function requests() {
  const list = await allAppointments("?status=requested");
  if (!list) return null;
  const decide = (a, verb, label) => h("button", {
    type: "button", class: verb === "approve" ? "primary" : "danger", "aria-label": `${label} ${a.rep.name}, ${localWhen(a.local_start)}`,
    onclick: async () => {
      if (await act(`${label}…`, "POST", `/appointments/${a.id}/${verb}`, {}, verb === "approve" ? `Approved: ${a.rep.name} is booked and goes to your PMS.` : `Declined; the time is open again.`)) await rerender();
    },
  }, label);
  return [
    h("h2", {}, "Requests waiting for approval"),
    table(["When", "With", "Rep", "Email", ""], list.appointments.map((a) => [
      localWhen(a.local_start), a.practitioner_name, `${a.rep.name} (${a.rep.company})`, a.rep.email,
      h("span", { class: "row-actions" }, decide(a, "approve", "Approve"), decide(a, "decline", "Decline")),
    ]), "Requests"),
  ];
}

// ---- Future appointments ----

async function appointments() {
  const list = await allAppointments("");
  if (!list) return null;
  const rows = list.appointments.map((a) => {
    const live = a.status === "booked";
    const actions = h("span", { class: "row-actions" },
      live ? h("button", {
        type: "button", "aria-label": `Resend to your PMS: ${a.rep.name}, ${localWhen(a.local_start)}`, onclick: async () => {
          const result = await act("Sending to your PMS…", "POST", `/appointments/${a.id}/resend`, {}, (r) => r.delivered ? "Sent to your PMS." : "Your PMS cannot take it now; it stays queued and is retried by itself.");
          if (result) await rerender();
        },
      }, "Resend to your PMS") : null,
      live || a.status === "requested" ? h("button", {
        type: "button", class: "danger", "aria-label": `Cancel ${a.rep.name}, ${localWhen(a.local_start)}`, onclick: async (event) => {
          const button = event.currentTarget;
          if (button.dataset.armed !== "yes") {
            button.dataset.armed = "yes";
            button.textContent = "Yes, cancel";
            button.setAttribute("aria-label", `Yes, cancel ${a.rep.name}, ${localWhen(a.local_start)}`);
            say("Press “Yes, cancel” to cancel this visit.");
            return;
          }
          if (await act("Cancelling…", "POST", `/appointments/${a.id}/cancel`, {}, "Cancelled; your PMS follows.")) await rerender();
        },
      }, "Cancel") : null);
    return [localWhen(a.local_start), `${a.duration_minutes} min`, a.practitioner_name, `${a.rep.name} (${a.rep.company})`, a.status, pmsState(a.pms), actions];
  });
  return [
    h("h2", {}, "Future appointments"),
    table(["When", "Length", "With", "Rep", "Status", "PMS", ""], rows, "Future appointments"),
  ];
}

// ---- Sync ----

async function sync() {
  const status = await get(clinicPath("/sync"));
  if (!status) return null;
  const site = status.site;
  const siteText = !status.pms_enabled ? "Sending is off"
    : site.paused ? `Offline: deliveries wait while repbook checks it${site.last_error ? ` (${site.last_error})` : ""}`
      : site.held_for_ms ? `Asked to slow down: resuming in ${Math.ceil(site.held_for_ms / 1000)} s`
        : "Online";
  const button = (label, id, path, done, cls) => h("button", {
    type: "button", id, class: cls, onclick: async () => {
      if (await act(`${label}…`, "POST", clinicPath(path), {}, done)) await rerender();
    },
  }, label);
  return [
    h("h2", {}, "Sync with your PMS"),
    h("dl", { class: "facts" },
      h("dt", {}, "Connector"), h("dd", {}, status.connector ? `${CONNECTOR_NAMES[status.connector] || status.connector}${status.connector_installed ? "" : " (not installed)"}` : "None"),
      h("dt", {}, "Your PMS"), h("dd", { id: "site-status" }, siteText),
      h("dt", {}, "Waiting to send"), h("dd", {}, `${status.outbox} change(s); ${status.in_flight} being sent now`),
      h("dt", {}, "Appointments"), h("dd", { id: "sync-counts" }, `${status.appointments.synced} synced, ${status.appointments.pending} waiting, ${status.appointments.needs_attention} need attention`),
      h("dt", {}, "Last success"), h("dd", {}, site.last_success || "—")),
    h("div", { class: "actions" },
      button("Sync Appointments", "sync-all", "/sync", (r) => `Queued ${r.queued} appointment(s) for your PMS.`, "primary"),
      button("Retry", "retry-parked", "/sync/retry-parked", (r) => `Queued ${r.queued} parked appointment(s) again.`),
      button("Reconcile now", "reconcile", "/sync/reconcile", (r) => `Reconciled: ${r.missing.length} re-sent, ${r.misplaced.length} moved back, ${r.should_be_cancelled.length + r.duplicated.length + r.unknown.length} cancelled in your PMS.`),
      button("Reset the connection", "reset", "/pms/reset", (r) => `Connection reset and validated; ${r.requeued} appointment(s) re-queued.`, "danger")),
    h("h3", {}, "Needs attention"),
    table(["When", "With", "Rep", "Why, and what to do"], status.parked.map((p) => [p.start.slice(0, 16).replace("T", " "), p.practitioner, p.rep, p.reason || ""]), "Parked appointments"),
  ];
}

// ---- Connectors ----

async function connectors() {
  const list = await get("/plugins");
  if (!list) return null;
  const rows = [];
  for (const plugin of list.plugins) {
    for (const version of plugin.versions) {
      rows.push([
        CONNECTOR_NAMES[plugin.name] ? `${plugin.name} (${CONNECTOR_NAMES[plugin.name]})` : plugin.name,
        version.version, `repbook:pms@${version.wit_version}`, version.installed_at.slice(0, 16).replace("T", " "),
        version.active ? h("strong", {}, "Active") : h("span", { class: "row-actions" },
          h("button", {
            type: "button", "aria-label": `Activate ${plugin.name} ${version.version}`, onclick: async () => {
              if (await act("Activating…", "POST", `/plugins/${plugin.name}/activate`, { version: version.version }, `${plugin.name} ${version.version} is active; no restart needed.`)) await rerender();
            },
          }, "Activate"),
          h("button", {
            type: "button", class: "danger", "aria-label": `Remove ${plugin.name} ${version.version}`, onclick: async () => {
              if (await act("Removing…", "DELETE", `/plugins/${plugin.name}/versions/${version.version}`, undefined, `Removed ${plugin.name} ${version.version}.`)) await rerender();
            },
          }, "Remove")),
      ]);
    }
  }
  return [
    h("h2", {}, "Connectors"),
    h("p", {}, "Connectors carry appointments to a PMS. They run sandboxed; a new version takes over without a restart, and Roll back returns to the previous one."),
    table(["Connector", "Version", "Contract", "Installed", ""], rows, "Installed connectors"),
    h("div", { class: "actions" }, list.plugins.filter((p) => p.versions.length > 1).map((p) => h("button", {
      type: "button", onclick: async () => {
        if (await act("Rolling back…", "POST", `/plugins/${p.name}/rollback`, {}, (r) => `${r.name} ${r.active_version} is active again.`)) await rerender();
      },
    }, `Roll back ${p.name}`))),
    h("h3", {}, "Install a connector"),
    h("form", {
      id: "install-form",
      class: "inline-form", onsubmit: async (event) => {
        event.preventDefault();
        const file = $("component-file").files[0];
        if (!file) {
          showError("Choose a connector file (.wasm) first.");
          return;
        }
        const body = await file.arrayBuffer();
        if (await act("Installing…", "POST", "/plugins", undefined, (r) => `Installed ${r.name} ${r.version}${r.activated ? " (active)" : ": activate it when you are ready"}.`, { type: "application/wasm", body })) await rerender();
      },
    }, h("label", { for: "component-file" }, "Connector file (.wasm)"), h("input", { id: "component-file", type: "file", accept: ".wasm,application/wasm" }), h("button", { type: "submit" }, "Install")),
  ];
}

// ---- start ----

(async () => {
  const answer = await call("GET", "/session");
  if (!answer.ok) {
    showSignIn();
    return;
  }
  state.csrf = answer.data.csrf_token;
  await loadClinics();
})();
