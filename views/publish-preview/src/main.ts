// The publish preview: shows a confirmed write as the public page will show it, lets the person correct the text
// and the notify switch (or type the name for a delete), then publishes through the gateway's app-only tool or
// cancels. Everything shown comes from the tool result's `_meta` and is caller text: it is only ever assigned to
// textContent or to a form control's value, never parsed as HTML.

import type { McpUiHostContext } from "@modelcontextprotocol/ext-apps";
import type { CallToolResult } from "@modelcontextprotocol/client";
import { HostBridge } from "./bridge";
import { type Action, type Draft, publishArguments, readDraft, resultText } from "./preview";

const PUBLISH_TOOL = "publish_draft";
// A write and its read-back take seconds; past this the view stops waiting and says the outcome is unknown.
const PUBLISH_TIMEOUT_MS = 120_000;

const WORDS: Record<Action, { eyebrow: string; notYet: string; button: string; busy: string; done: string; notDone: string; cancelled: string }> = {
  publish: {
    eyebrow: "Review before publishing", notYet: "Nothing is public yet", button: "Publish", busy: "Publishing…",
    done: "Published", notDone: "Not published", cancelled: "Nothing was published.",
  },
  delete: {
    eyebrow: "Review before deleting", notYet: "Nothing is deleted yet", button: "Delete", busy: "Deleting…",
    done: "Deleted", notDone: "Not deleted", cancelled: "Nothing was deleted.",
  },
  rotate: {
    eyebrow: "Review before rotating the secret", notYet: "Nothing has changed yet", button: "Rotate secret",
    busy: "Rotating…", done: "Secret rotated", notDone: "Not rotated", cancelled: "The secret was not rotated.",
  },
};

const el = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the view's markup has no #${id}`);
  return found as T;
};
const setText = (id: string, text: string) => {
  el(id).textContent = text;
};
const show = (id: string, visible = true) => {
  el(id).hidden = !visible;
};

/** "degraded_performance" → "Degraded performance": the API's words, readable. */
const words = (value: string) => {
  const spaced = value.replace(/_/g, " ").trim();
  return spaced ? spaced[0].toUpperCase() + spaced.slice(1) : "Unknown";
};

type Tone = "ok" | "minor" | "major" | "maintenance" | "neutral";
const TONES: Record<string, Tone> = {
  operational: "ok", resolved: "ok", completed: "ok",
  minor: "minor", degraded: "minor", degraded_performance: "minor", partial_outage: "minor",
  major: "major", major_outage: "major", unavailable: "major", down: "major",
  maintenance: "maintenance", under_maintenance: "maintenance", scheduled: "maintenance",
};
// By the first word: "operational, unless another notice still affects it" reads as operational.
const tone = (value: string | null): Tone =>
  value ? (TONES[value.toLowerCase()] ?? TONES[value.toLowerCase().split(/[\s,]/)[0]] ?? "neutral") : "neutral";

function badge(id: string, value: string | null, label: string) {
  const node = el(id);
  node.hidden = !value;
  if (!value) return;
  node.textContent = label;
  node.className = `${node.classList.contains("status") ? "status" : "badge"} tone-${tone(value)}`;
}

// ---- host context: theme and the host's style variables ---------------------------------------------------------

let locale: string | undefined;
let timeZone: string | undefined;

function applyContext(context: Partial<McpUiHostContext>) {
  const root = document.documentElement;
  if (context.theme === "light" || context.theme === "dark") root.dataset.theme = context.theme;
  const variables = context.styles?.variables ?? {};
  for (const [name, value] of Object.entries(variables)) {
    // Only custom properties: a host cannot restyle anything but the variables the stylesheet reads.
    if (name.startsWith("--") && typeof value === "string") root.style.setProperty(name, value);
  }
  if (typeof context.locale === "string") locale = context.locale;
  if (typeof context.timeZone === "string") timeZone = context.timeZone;
}

// ---- rendering ----------------------------------------------------------------------------------------------------

let draft: Draft | null = null;
let settled = false; // published or cancelled: nothing more to do
let busy = false;
let expired = false;

function showPlain(text: string) {
  show("waiting", false);
  show("review", false);
  setText("plain-text", text);
  show("plain");
}

function render(result: CallToolResult) {
  if (settled || busy) return; // a late or repeated result never replaces what the person acted on
  const found = readDraft(result);
  if (!found) {
    // Not a draft (an error, an ordinary result): say what the gateway said, offer nothing to approve.
    showPlain(resultText(result) || "There is nothing to review in this result.");
    return;
  }
  draft = found;
  const p = found.preview;
  const w = WORDS[p.action];
  document.title = `${w.eyebrow}: StatusPal`;
  setText("eyebrow", w.eyebrow);
  setText("not-yet", w.notYet);
  setText("summary", p.summary);
  setText("publish", w.button);

  show("page", p.page !== null);
  if (p.page) {
    setText("page-name", p.page.name);
    setText("page-subdomain", p.page.subdomain ? `(${p.page.subdomain})` : "");
    setText("page-tz", p.page.time_zone);
    badge("page-now", p.page.status_now, words(p.page.status_now));
    badge("page-next", p.page.status_predicted, words(p.page.status_predicted));
    // A status not given (no prediction for a page about to be deleted) has no row, rather than an empty one.
    for (const [row, value] of [["page-now", p.page.status_now], ["page-next", p.page.status_predicted]]) {
      show(`${row}-term`, Boolean(value));
      show(`${row}-desc`, Boolean(value));
    }
  }

  const n = p.notice;
  show("notice", n !== null);
  if (n) {
    badge("notice-type", n.type, words(n.type));
    // Maintenance has no severity: its type carries the colour (with its word); other types stay neutral.
    el("notice-type").className = `badge tone-${n.type === "maintenance" ? "maintenance" : "neutral"}`;
    badge("notice-severity", n.severity, `Severity: ${words(n.severity ?? "")}`);
    badge("notice-state", n.state, n.state ? words(n.state) : "");
    if (n.state) el("notice-state").className = "badge plain";
    setText("notice-title", n.title);
    // The gateway gives these already in the page's zone, the zone named in the string.
    show("notice-when", n.starts_at_local !== null || n.ends_at_local !== null);
    setText("notice-starts", n.starts_at_local ?? "When it is published");
    setText("notice-ends", n.ends_at_local ?? "Not set");
    const list = el("notice-affected-list");
    list.replaceChildren(
      ...n.affected.map((a) => {
        const item = document.createElement("li");
        const name = document.createElement("strong");
        name.textContent = a.service || a.service_slug;
        item.append(name, a.regions.length ? ` in ${a.regions.join(", ")}` : " (every region)");
        return item;
      }),
    );
    show("notice-affected", n.affected.length > 0);
    show("notice-text-field", n.text !== null);
    el<HTMLTextAreaElement>("notice-text").value = n.text ?? "";
  }

  show("notify", p.notify !== null);
  if (p.notify !== null) {
    el<HTMLInputElement>("notify-switch").checked = p.notify;
    describeNotify();
  }

  const d = p.delete;
  show("delete", d !== null);
  if (d) {
    setText("delete-what", d.what);
    el("delete-goes-list").replaceChildren(
      ...d.goes_with.map((thing) => {
        const item = document.createElement("li");
        item.textContent = thing;
        return item;
      }),
    );
    show("delete-goes", d.goes_with.length > 0);
    show("delete-typed-field", d.type_to_confirm !== null);
    setText("delete-name", d.type_to_confirm ?? "");
    el<HTMLInputElement>("delete-typed").value = "";
  }

  show("rotate", p.rotate !== null);
  if (p.rotate) {
    setText("rotate-webhook", p.rotate.webhook);
    setText("rotate-warning", p.rotate.warning);
  }

  watchExpiry(p.expires_at);
  show("waiting", false);
  show("plain", false);
  show("outcome", false);
  show("review");
  updateControls();
}

// The gateway's sentence describes the switch as the assistant proposed it; once the person flips it, the view says
// plainly what the new position means instead of leaving a sentence that no longer holds.
function describeNotify() {
  const p = draft?.preview;
  if (!p || p.notify === null) return;
  const on = el<HTMLInputElement>("notify-switch").checked;
  setText("notify-state", on ? "On" : "Off");
  setText(
    "notify-consequence",
    on === p.notify && p.notify_consequence
      ? p.notify_consequence
      : on
        ? "Subscribers will be notified when this is published."
        : "No one will be notified; the change still appears on the public page.",
  );
}

let expiryTimer: number | undefined;
function watchExpiry(iso: string) {
  window.clearTimeout(expiryTimer);
  expired = false;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) {
    setText("expiry", "");
    return;
  }
  let shown: string;
  try {
    shown = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", timeZoneName: "short", timeZone }).format(at);
  } catch {
    shown = new Date(at).toISOString();
  }
  setText("expiry", `This draft can be approved until ${shown}.`);
  const expire = () => {
    expired = true;
    setText("expiry", "This draft has expired. Ask the assistant to prepare it again.");
    updateControls();
  };
  const left = at - Date.now();
  if (left <= 0) expire();
  else expiryTimer = window.setTimeout(expire, Math.min(left, 2 ** 31 - 1));
}

function typedOk(): boolean {
  const wanted = draft?.preview.delete?.type_to_confirm;
  return wanted == null || el<HTMLInputElement>("delete-typed").value === wanted;
}

// A notice cannot be published without words: an emptied text keeps Publish off and says why.
function textOk(): boolean {
  return draft?.preview.notice?.text == null || el<HTMLTextAreaElement>("notice-text").value.trim() !== "";
}

function updateControls() {
  const locked = busy || settled;
  for (const id of ["notice-text", "notify-switch", "delete-typed"]) {
    (el(id) as HTMLInputElement | HTMLTextAreaElement).disabled = locked;
  }
  el<HTMLButtonElement>("publish").disabled = locked || expired || !typedOk() || !textOk();
  setText("notice-text-help", textOk() ? "You can correct the text before it is published." : "The text cannot be empty.");
  el<HTMLButtonElement>("cancel").disabled = locked;
  show("not-yet", !settled);
  show("expiry", !settled); // once published or cancelled, the draft's deadline no longer concerns the person
}

// ---- outcome ------------------------------------------------------------------------------------------------------

function showOutcome(kind: "done" | "failed" | "cancelled", heading: string, text: string, applied?: unknown) {
  const box = el("outcome");
  box.className = kind;
  setText("outcome-heading", heading);
  setText("outcome-text", text);
  const facts = appliedFacts(applied);
  el("outcome-facts").replaceChildren(
    ...facts.flatMap(([name, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      return [dt, dd];
    }),
  );
  show("outcome-facts", facts.length > 0);
  const details = applied !== undefined && applied !== null;
  show("outcome-details", details);
  if (details) setText("outcome-json", JSON.stringify(applied, null, 2));
  box.hidden = false;
  // Keyboard and screen-reader users land on what happened, not on a button that is now disabled.
  const title = el("outcome-heading");
  title.tabIndex = -1;
  title.focus();
}

/** The verified result's plain fields as name and value, readable; nested records stay in the full report,
 * except whether subscribers were notified, which the person just decided. */
function appliedFacts(applied: unknown): Array<[string, string]> {
  if (typeof applied !== "object" || applied === null || Array.isArray(applied)) return [];
  const record = applied as Record<string, unknown>;
  const facts: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(record)) {
    if (value === null || value === "" || typeof value === "object") continue;
    facts.push([words(key), typeof value === "boolean" ? (value ? "Yes" : "No") : String(value)]);
  }
  const updates = Array.isArray(record.updates) ? record.updates : [];
  const last = updates[updates.length - 1] as Record<string, unknown> | undefined;
  const notified = last?.notified ?? last?.notify;
  if (typeof notified === "boolean") facts.push(["Subscribers notified", notified ? "Yes" : "No"]);
  return facts.slice(0, 16);
}

/** A result's text for a person: the gateway's prose as it is, but not a JSON twin of the structured result. */
function prose(text: string): string {
  try {
    JSON.parse(text);
    return "";
  } catch {
    return text;
  }
}

async function tellModel(text: string) {
  try {
    await bridge.updateModelContext({ content: [{ type: "text", text }] });
  } catch {
    const note = document.createElement("p");
    note.className = "help";
    note.textContent = "The assistant could not be told what happened here; tell it yourself.";
    el("outcome").append(note);
  }
}

async function publish() {
  if (!draft || busy || settled || expired || !typedOk() || !textOk()) return;
  const p = draft.preview;
  const w = WORDS[p.action];
  const notice = p.notice?.text != null ? el<HTMLTextAreaElement>("notice-text").value : null;
  const args = publishArguments(draft, {
    text: notice,
    notify: p.notify !== null ? el<HTMLInputElement>("notify-switch").checked : null,
    typed: p.delete?.type_to_confirm != null ? el<HTMLInputElement>("delete-typed").value : null,
  });
  busy = true;
  updateControls();
  setText("publish", w.busy);
  show("outcome", false);
  try {
    const result = await bridge.callTool({ name: PUBLISH_TOOL, arguments: args }, PUBLISH_TIMEOUT_MS);
    const said = resultText(result);
    if (result.isError) {
      // The gateway says what was and was not done; the person may correct and try again, and the gateway
      // refuses a draft that was already used.
      showOutcome("failed", w.notDone, prose(said) || "StatusPal did not apply it.");
      await tellModel(`The person approved ${p.tool} in the publish preview, but it was not applied: ${said}`);
    } else {
      settled = true;
      // A rotation's result holds the new secret, shown this once: the person is the one who hands it on.
      const lead = p.action === "rotate"
        ? "StatusPal shows the new secret only this once: give it to every receiver now."
        : "StatusPal reports it applied this:";
      showOutcome("done", w.done, prose(said) || lead, result.structuredContent);
      show("actions-row", false);
      await tellModel(`The person approved ${p.tool} in the publish preview and StatusPal applied it. ${said}`.trim());
    }
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    showOutcome(
      "failed",
      "No answer",
      `The assistant's app could not finish the call (${why}). It may or may not have been applied: look at the status page before trying again.`,
    );
    await tellModel(`The person approved ${p.tool} in the publish preview, but the call did not finish (${why}); the outcome is unknown.`);
  } finally {
    busy = false;
    setText("publish", w.button);
    updateControls();
  }
}

async function cancel() {
  if (!draft || busy || settled) return;
  const p = draft.preview;
  settled = true;
  updateControls();
  show("actions-row", false);
  // Cancel calls nothing on the server: the unused draft expires by itself.
  showOutcome("cancelled", "Cancelled", WORDS[p.action].cancelled);
  await tellModel(
    `The person cancelled ${p.tool} in the publish preview: ${WORDS[p.action].cancelled} Do not call ${p.tool} again unless they ask for it.`,
  );
}

// ---- wiring -------------------------------------------------------------------------------------------------------

const bridge = new HostBridge();
bridge.onHostContext = applyContext;
bridge.onToolResult = render;
bridge.onToolCancelled = (reason) => {
  if (!draft) showPlain(`The assistant's call was cancelled${reason ? `: ${reason}` : ""}. Nothing was published.`);
};

// No form submission: hosts may sandbox the view without allow-forms, which drops a submit before its event fires.
// Publish is a plain button, and Enter in the typed-name field presses it, as it would in a form.
el("review").addEventListener("submit", (event) => event.preventDefault());
el("publish").addEventListener("click", publish);
el("delete-typed").addEventListener("keydown", (event) => {
  if (event.key === "Enter") publish();
});
el("cancel").addEventListener("click", cancel);
el("notify-switch").addEventListener("change", describeNotify);
el("delete-typed").addEventListener("input", updateControls);
el("notice-text").addEventListener("input", updateControls);

bridge
  .connect({ name: "statuspal-publish-preview", version: "1.0.0" }, { availableDisplayModes: ["inline"] })
  .then((init) => applyContext(init.hostContext ?? {}))
  .catch(() => setText("waiting", "This preview needs an assistant that shows MCP Apps. Nothing was published."));
