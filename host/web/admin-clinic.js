// Clinic information: name, zone, state, duration; the PMS site (Validate), practice location and the
// connector's settings (secrets write-only).
import { $, h, field, checkbox, say, act, get, CONNECTOR_NAMES, ZONES, STATES } from "./ui.js";

export async function render(ctx) {
  const clinic = await ctx.refresh();
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
        if (await act("Saving…", "PATCH", ctx.path(), body, "Saved the clinic's details.")) {
          const renamed = await ctx.refresh();
          $("clinic-select").selectedOptions[0].textContent = renamed.name;
          await ctx.rerender();
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
        if (!(await act("Saving…", "PUT", ctx.path("/pms"), { enabled }, enabled ? "Sending to your PMS is on." : "Sending to your PMS is off."))) event.target.checked = !enabled;
      },
    }),
    h("form", {
      id: "site-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const body = { site_id: $("site-id").value.trim() };
        const pairing = $("pairing-code") ? $("pairing-code").value.trim() : "";
        if (pairing) body.pairing_code = pairing;
        if (!(await act("Saving…", "PUT", ctx.path("/pms"), body))) return;
        const result = await act("Validating with your PMS…", "POST", ctx.path("/pms/validate"), {});
        await ctx.rerender();
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
    const list = await get(ctx.path("/pms/locations"));
    const locations = list ? list.locations : [];
    parts.push(h("form", {
      id: "location-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const id = Number($("location").value);
        const chosen = locations.find((l) => l.id === id);
        if (await act("Saving…", "PUT", ctx.path("/pms"), { location_id: id, location_name: chosen ? chosen.name : undefined }, `Practice location: ${chosen ? chosen.name : id}.`)) await ctx.rerender();
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
        if (await act("Saving…", "PUT", ctx.path("/pms"), { settings }, "Saved the connector settings.")) await ctx.rerender();
      },
    },
    connector.settings.map((spec) => {
      const isSet = pms.secrets_set.includes(spec.name);
      const label = `${spec.label}${spec.required ? "" : " (optional)"}${spec.secret ? (isSet ? " (secret, set; leave empty to keep)" : " (secret)") : ""}`;
      return field(label, {
        id: `setting-${spec.name}`, type: spec.secret ? "password" : "text", autocomplete: spec.secret ? "off" : null,
        value: spec.secret ? "" : (pms.settings[spec.name] ?? ""), placeholder: spec.default_value || null,
      }, spec.description);
    }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save settings"))));
  }
  return parts;
}
