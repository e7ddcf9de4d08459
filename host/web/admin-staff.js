// My medical staff: add doctors, Sync Staff (AHPRA numbers must match exactly), map by hand, and when each
// doctor's PMS diary was last read.
import { $, h, field, table, showError, act, get } from "./ui.js";
import { whenIn } from "./words.js";

const LINK_STATES = {
  synced: "Synced with your PMS",
  unsynced: "Not synced yet: press Sync Staff",
  not_in_pms: "Not found in your PMS",
  ahpra_mismatch: "AHPRA number does not match",
  needs_mapping: "Map by hand",
};

export async function render(ctx) {
  const [list, diaries] = await Promise.all([get(ctx.path("/staff")), get(ctx.path("/availability"))]);
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
        if (await act("Mapping…", "PUT", ctx.path(`/staff/${p.id}/pms`), { user_id: Number(value) }, `Mapped ${name} to PMS user ${value}.`)) await ctx.rerender();
      },
    }, h("label", { for: inputId, class: "visually-hidden" }, `PMS user id for ${p.title} ${p.first_name} ${p.last_name}`),
    h("input", { id: inputId, type: "number", min: 1, value: p.pms.user_id ?? "", class: "narrow", placeholder: "PMS user id" }),
    h("button", { type: "submit", id: `map-button-${p.id}`, "aria-label": `Map ${name}` }, "Map"),
    p.pms.manual ? h("button", {
      type: "button", onclick: async () => {
        if (await act("Clearing…", "PUT", ctx.path(`/staff/${p.id}/pms`), { user_id: null }, "Cleared the mapping.")) await ctx.rerender();
      },
    }, "Clear") : null);
    const diary = diaryOf(p.id);
    const diaryText = !diary ? "—"
      : diary.last_error ? `Not read: ${diary.last_error}`
        : diary.last_read ? `Read ${whenIn(diary.last_read, ctx.clinic.timezone)}` : "Not read yet";
    return [`${p.title} ${p.first_name} ${p.last_name}`.trim(), p.ahpra, status, diaryText, map];
  });
  return [
    h("h2", {}, "My medical staff"),
    h("p", {}, "Doctors are matched to your PMS by AHPRA number, which must match exactly. Where your PMS does not tell repbook the number, map the doctor by hand."),
    h("div", { class: "actions" }, h("button", {
      type: "button", class: "primary", id: "sync-staff", onclick: async () => {
        const result = await act("Syncing staff with your PMS…", "POST", ctx.path("/staff/sync"), {}, (r) => `Sync Staff: ${r.summary.synced} synced, ${r.summary.ahpra_mismatch} AHPRA mismatch, ${r.summary.not_in_pms} not in the PMS, ${r.summary.needs_mapping} to map by hand.`);
        if (result) await ctx.rerender();
      },
    }, "Sync Staff")),
    table(["Doctor", "AHPRA", "PMS", "Diary in the PMS", "Map to a PMS user"], rows, "Medical staff"),
    h("h3", {}, "Add a doctor"),
    h("form", {
      id: "add-doctor-form",
      class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const body = { title: $("s-title").value.trim(), first_name: $("s-first").value.trim(), last_name: $("s-last").value.trim(), ahpra: $("s-ahpra").value.trim() };
        if (await act("Adding…", "POST", ctx.path("/staff"), body, "Doctor added. Press Sync Staff to match them in your PMS.")) await ctx.rerender();
      },
    },
    field("Title", { id: "s-title", value: "Dr", maxlength: 20 }),
    field("First name", { id: "s-first", required: true, "aria-required": "true", maxlength: 100 }),
    field("Last name", { id: "s-last", required: true, "aria-required": "true", maxlength: 100 }),
    field("AHPRA number", { id: "s-ahpra", required: true, "aria-required": "true", maxlength: 13, placeholder: "MED0001234567", spellcheck: "false" }, "Three letters and ten digits, exactly as in the AHPRA register."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add the doctor"))),
  ];
}
