// Webhooks: where this clinic's events go (an intranet, a CRM, an SMS gateway), each endpoint's events and
// signing secret (shown once, when added or rotated), a test event, and every delivery with what the
// endpoint answered; a parked delivery (the endpoint refused it) is sent again after the fix.
import { $, h, field, table, act, get, plural } from "./ui.js";
import { whenIn } from "./words.js";

const STATE_WORDS = { pending: "Waiting to be sent", delivered: "Delivered", parked: "Parked: needs you" };

function secretNote(data, what) {
  return h("div", { class: "secret-once", role: "status" },
    h("p", {}, `${what} Copy the signing secret now: it is not shown again.`),
    h("p", {}, h("code", { id: "webhook-secret" }, data.secret)),
    data.endpoint.previous_secret_retires_at ? h("p", {}, `The previous secret also signs until ${data.endpoint.previous_secret_retires_at}.`) : null);
}

export async function render(ctx) {
  const clinic = await ctx.refresh();
  const list = await get(ctx.path("/webhooks"));
  if (!list) return null;
  const zone = clinic.timezone;
  const shown = ctx.state.webhookSecret;
  ctx.state.webhookSecret = null;
  const sections = [];
  for (const endpoint of list.endpoints) {
    const data = await get(ctx.path(`/webhooks/${endpoint.id}/deliveries?limit=50`));
    if (!data) return null;
    const base = ctx.path(`/webhooks/${endpoint.id}`);
    const parked = data.deliveries.filter((d) => d.state === "parked");
    const rows = data.deliveries.map((d) => [
      whenIn(d.created_at, zone), d.type, STATE_WORDS[d.state] || d.state, String(d.attempts),
      d.last_reply ? `${d.last_reply.status ? `${d.last_reply.status} ` : ""}${d.last_reply.detail}` : "—",
      d.state === "parked" ? h("button", {
        type: "button", class: "primary", "aria-label": `Send ${d.type} again`, onclick: async () => {
          if (await act("Sending again…", "POST", `${base}/deliveries/${d.id}/retry`, {}, `Sending ${d.type} again.`)) await ctx.rerender();
        },
      }, "Send again") : "",
    ]);
    sections.push(
      h("h3", {}, endpoint.description ? `${endpoint.description}: ${endpoint.url}` : endpoint.url),
      h("p", {}, `${endpoint.disabled ? "Switched off. " : ""}Events: ${endpoint.events.length === list.events.length ? "all" : endpoint.events.join(", ")}. ${endpoint.signing_secrets > 1 ? "Two secrets sign during a rotation." : ""}`),
      parked.length ? h("p", { class: "warning" }, `${plural(parked.length, "delivery", "deliveries")} parked: the endpoint refused them. Fix the receiver, then Send again.`) : null,
      h("div", { class: "row-actions" },
        h("button", {
          type: "button", "aria-label": `Send a test event to ${endpoint.url}`, onclick: async () => {
            if (await act("Queueing a test event…", "POST", `${base}/test`, {}, "Test event queued; its outcome shows below in a moment.")) setTimeout(() => ctx.rerender(), 1500);
          },
        }, "Send a test event"),
        h("button", {
          type: "button", "aria-label": `New signing secret for ${endpoint.url}`, onclick: async () => {
            const data = await act("Rotating…", "POST", `${base}/rotate`, { overlap_hours: 24 }, "New secret made; the old one signs for 24 more hours.");
            if (data) {
              ctx.state.webhookSecret = { data, what: "New secret made; both sign for the next 24 hours." };
              await ctx.rerender();
            }
          },
        }, "New signing secret"),
        h("button", {
          type: "button", class: "danger", "aria-label": `Remove the endpoint ${endpoint.url}`, onclick: async () => {
            if (await act("Removing…", "DELETE", base, undefined, `Removed ${endpoint.url}.`)) await ctx.rerender();
          },
        }, "Remove")),
      table(["When", "Event", "State", "Attempts", "The endpoint said", ""], rows, `Deliveries to ${endpoint.url}`),
    );
  }
  const boxes = list.events.map((name) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "wh-event", value: name }), ` ${name}`));
  return [
    h("h2", {}, "Webhooks"),
    h("p", {}, "Other systems hear of this clinic's events by signed HTTPS requests (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature). A failing endpoint is retried for three days; one that refuses a delivery parks it here."),
    shown ? secretNote(shown.data, shown.what) : null,
    ...sections,
    h("h2", {}, "Add an endpoint"),
    h("form", {
      id: "webhook-form", class: "grid-form", onsubmit: async (event) => {
        event.preventDefault();
        const events = [...document.querySelectorAll("input[name=wh-event]:checked")].map((b) => b.value);
        const body = { url: $("wh-url").value.trim(), description: $("wh-description").value.trim(), events };
        const data = await act("Adding…", "POST", ctx.path("/webhooks"), body, `Added ${body.url}.`);
        if (data) {
          ctx.state.webhookSecret = { data, what: `Added ${body.url}.` };
          await ctx.rerender();
        }
      },
    },
    field("URL (https://…)", { id: "wh-url", type: "url", required: true, maxlength: 2000 }),
    field("What it is (for you)", { id: "wh-description", maxlength: 200 }),
    h("fieldset", {}, h("legend", {}, "Events (tick none for all)"), boxes),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add endpoint"))),
  ];
}
