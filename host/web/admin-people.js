// People: who works at this clinic and as what, invitations (mailed, or a link to pass on by hand when the
// server sends no mail), changing a role, disabling someone (signed out at once, their tokens revoked),
// and resetting the factors of someone who lost theirs.
import { $, h, field, table, act, get } from "./ui.js";
import { whenIn } from "./words.js";
import { roleWords } from "./admin-account.js";

const STATE_WORDS = { invited: "Invited", active: "Active", disabled: "Disabled" };

export async function render(ctx) {
  const list = await get("/people");
  if (!list) return null;
  const clinic = ctx.clinic;
  const zone = clinic.timezone;
  const here = (p) => p.roles.find((r) => r.clinic === clinic.id);
  const owner = ctx.isOwner;
  const people = list.people.filter((p) => here(p) || (owner && p.roles.some((r) => r.role === "owner")));
  const me = ctx.session.person ? ctx.session.person.id : null;

  const setRole = async (person, role) => {
    const roles = person.roles.filter((r) => r.clinic !== clinic.id).map((r) => ({ clinic: r.clinic, role: r.role }));
    if (role) roles.push({ clinic: clinic.id, role });
    const words = role ? `${person.name} is now ${roleWords(role).toLowerCase()} at ${clinic.name}.` : `${person.name} has no role at ${clinic.name} any more.`;
    if (await act("Changing the role…", "PATCH", `/people/${encodeURIComponent(person.id)}`, { roles }, words)) await ctx.rerender();
  };
  const roleControl = (person) => {
    const current = here(person);
    if (!current || person.id === me) return current ? roleWords(current.role) : "Host owner";
    const select = h("select", { "aria-label": `Role of ${person.name} at ${clinic.name}`, onchange: (e) => setRole(person, e.target.value || null) },
      ["front_desk", "manager"].map((r) => h("option", { value: r, selected: r === current.role }, roleWords(r))),
      h("option", { value: "" }, "No role here"));
    return select;
  };
  const button = (label, cls, run) => h("button", { type: "button", class: cls, "aria-label": label, onclick: run }, label.split(":")[0]);
  const actions = (person) => {
    if (person.id === me) return "You";
    if (person.state === "invited" && person.invitation) {
      return h("span", { class: "row-actions" },
        button(`Send again: ${person.email}`, "", async () => {
          const sent = await act("Sending again…", "POST", `/invitations/${encodeURIComponent(person.invitation.id)}/resend`, {}, (r) => r.mailed ? `Invitation mailed again to ${person.email}.` : "A new link is below; the old one stops.");
          if (sent) {
            ctx.state.inviteLink = sent.invite_url;
            await ctx.rerender();
          }
        }),
        button(`Withdraw: ${person.email}`, "danger", async () => {
          if (await act("Withdrawing…", "DELETE", `/invitations/${encodeURIComponent(person.invitation.id)}`, undefined, `Invitation to ${person.email} withdrawn.`)) await ctx.rerender();
        }));
    }
    return h("span", { class: "row-actions" },
      person.state === "disabled"
        ? button(`Enable: ${person.name}`, "", async () => {
          if (await act("Enabling…", "PATCH", `/people/${encodeURIComponent(person.id)}`, { disabled: false }, `${person.name} can sign in again.`)) await ctx.rerender();
        })
        : button(`Disable: ${person.name}`, "danger", async () => {
          if (await act("Disabling…", "PATCH", `/people/${encodeURIComponent(person.id)}`, { disabled: true }, `${person.name} is signed out everywhere and cannot sign in.`)) await ctx.rerender();
        }),
      button(`Reset factors: ${person.name}`, "", async () => {
        if (await act("Resetting…", "POST", `/people/${encodeURIComponent(person.id)}/reset-factors`, {}, `${person.name}'s passkeys, app and recovery codes are removed; they add a new second factor at their next sign-in.`)) await ctx.rerender();
      }));
  };

  const roles = owner ? ["front_desk", "manager", "owner"] : ["front_desk", "manager"];
  const form = h("form", { class: "grid-form", novalidate: true, id: "invite-form" },
    field("Email address", { id: "invite-email", type: "email", required: true, autocomplete: "off" }),
    field("Name (optional)", { id: "invite-name", maxlength: "120" }),
    field("Role", { id: "invite-role", tag: "select", options: roles.map((r) => [r, r === "owner" ? "Host owner (every clinic)" : `${roleWords(r)} at ${clinic.name}`]) }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Invite")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = $("invite-email").value.trim();
    if (!email) {
      $("invite-email").focus();
      return;
    }
    const role = $("invite-role").value;
    const invited = await act("Inviting…", "POST", "/people", {
      email, role, clinic: role === "owner" ? null : clinic.id, name: $("invite-name").value.trim() || null,
    }, (r) => !r.invited ? `${email} already had an account; they now have the role.` : r.mailed ? `Invitation mailed to ${email}.` : "Pass the link below on to them: it is shown once.");
    if (invited) {
      ctx.state.inviteLink = invited.invite_url;
      await ctx.rerender();
    }
  });
  const link = ctx.state.inviteLink;
  ctx.state.inviteLink = null;
  return [
    h("h2", {}, `People at ${clinic.name}`),
    h("p", {}, "Everyone signs in as themselves, with a second factor. Front desk run the day (appointments, requests, the waitlist); practice managers also change the clinic's settings and its people."),
    link ? h("p", { class: "secret-once", id: "invite-link" }, "Invitation link (works once, shown only now): ", h("code", { class: "url" }, new URL(link, location.href).href)) : null,
    table(["Name", "Email", "Role here", "State", "Second factor", "Last sign-in", ""], people.map((p) => [
      p.name, p.email, roleControl(p), STATE_WORDS[p.state] || p.state,
      p.factors.passkeys.length || p.factors.totp
        ? [p.factors.passkeys.length ? `${p.factors.passkeys.length} passkey${p.factors.passkeys.length === 1 ? "" : "s"}` : "", p.factors.totp ? "app" : ""].filter(Boolean).join(", ")
        : p.state === "invited" ? "—" : "none yet",
      p.last_sign_in_at ? whenIn(p.last_sign_in_at, zone) : "never",
      actions(p),
    ]), "People"),
    h("h3", {}, "Invite someone"),
    form,
  ];
}
