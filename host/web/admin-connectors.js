// Connectors: the installed components and their versions; install, activate, roll back, remove.
import { $, h, table, showError, act, get, CONNECTOR_NAMES } from "./ui.js";
import { whenIn } from "./words.js";

export async function render(ctx) {
  const list = await get("/plugins");
  if (!list) return null;
  const rows = [];
  for (const plugin of list.plugins) {
    for (const version of plugin.versions) {
      rows.push([
        CONNECTOR_NAMES[plugin.name] ? `${plugin.name} (${CONNECTOR_NAMES[plugin.name]})` : plugin.name,
        version.version, `repbook:pms@${version.wit_version}`, whenIn(version.installed_at, ctx.clinic.timezone),
        version.active ? h("strong", {}, "Active") : h("span", { class: "row-actions" },
          h("button", {
            type: "button", "aria-label": `Activate ${plugin.name} ${version.version}`, onclick: async () => {
              if (await act("Activating…", "POST", `/plugins/${plugin.name}/activate`, { version: version.version }, `${plugin.name} ${version.version} is active; no restart needed.`)) await ctx.rerender();
            },
          }, "Activate"),
          h("button", {
            type: "button", class: "danger", "aria-label": `Remove ${plugin.name} ${version.version}`, onclick: async () => {
              if (await act("Removing…", "DELETE", `/plugins/${plugin.name}/versions/${version.version}`, undefined, `Removed ${plugin.name} ${version.version}.`)) await ctx.rerender();
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
        if (await act("Rolling back…", "POST", `/plugins/${p.name}/rollback`, {}, (r) => `${r.name} ${r.active_version} is active again.`)) await ctx.rerender();
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
        if (await act("Installing…", "POST", "/plugins", undefined, (r) => `Installed ${r.name} ${r.version}${r.activated ? " (active)" : ": activate it when you are ready"}.`, { type: "application/wasm", body })) await ctx.rerender();
      },
    }, h("label", { for: "component-file" }, "Connector file (.wasm)"), h("input", { id: "component-file", type: "file", accept: ".wasm,application/wasm" }), h("button", { type: "submit" }, "Install")),
  ];
}
