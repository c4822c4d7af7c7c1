// What the gateway puts in a confirmed tool's result `_meta` (the contract of issue 20), read defensively: the
// result passes through the host, and every string in it is caller text. A field of the wrong type reads as absent,
// never as something else; a preview without its draft or action cannot be approved at all.

import type { CallToolResult } from "@modelcontextprotocol/client";

export const DRAFT_KEY = "statuspal/draft";
export const PREVIEW_KEY = "statuspal/preview";

export type Action = "publish" | "delete" | "rotate";

export interface PagePreview {
  subdomain: string;
  name: string;
  time_zone: string;
  status_now: string;
  status_predicted: string;
}

export interface Affected {
  service: string;
  service_slug: string;
  regions: string[];
}

export interface NoticePreview {
  title: string;
  type: string; // incident | maintenance | info
  severity: string | null; // minor | major | maintenance | null
  text: string | null;
  starts_at_local: string | null;
  ends_at_local: string | null;
  affected: Affected[];
  state: string | null;
}

export interface Preview {
  tool: string;
  action: Action;
  summary: string;
  page: PagePreview | null;
  notice: NoticePreview | null;
  notify: boolean | null; // null: the tool takes no notify
  notify_consequence: string;
  delete: { what: string; goes_with: string[]; type_to_confirm: string | null } | null;
  rotate: { webhook: string; warning: string } | null;
  expires_at: string;
}

export interface Draft {
  sealed: string;
  preview: Preview;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const strOrNull = (v: unknown): string | null => (typeof v === "string" ? v : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);

function page(v: unknown): PagePreview | null {
  if (!isObj(v)) return null;
  return {
    subdomain: str(v.subdomain), name: str(v.name), time_zone: str(v.time_zone),
    status_now: str(v.status_now), status_predicted: str(v.status_predicted),
  };
}

function notice(v: unknown): NoticePreview | null {
  if (!isObj(v)) return null;
  const affected = Array.isArray(v.affected) ? v.affected.filter(isObj) : [];
  return {
    title: str(v.title), type: str(v.type), severity: strOrNull(v.severity), text: strOrNull(v.text),
    starts_at_local: strOrNull(v.starts_at_local), ends_at_local: strOrNull(v.ends_at_local),
    affected: affected.map((a) => ({ service: str(a.service), service_slug: str(a.service_slug), regions: strings(a.regions) })),
    state: strOrNull(v.state),
  };
}

/** The draft in a tool result, or null when the result carries none (a plain result, an error, a tampered shape). */
export function readDraft(result: CallToolResult): Draft | null {
  const meta = (result as { _meta?: unknown })._meta;
  if (!isObj(meta) || result.isError) return null;
  const sealed = meta[DRAFT_KEY];
  const p = meta[PREVIEW_KEY];
  if (typeof sealed !== "string" || !sealed || !isObj(p)) return null;
  const action = p.action;
  if (action !== "publish" && action !== "delete" && action !== "rotate") return null;
  const del = isObj(p.delete)
    ? { what: str(p.delete.what), goes_with: strings(p.delete.goes_with), type_to_confirm: strOrNull(p.delete.type_to_confirm) }
    : null;
  const rot = isObj(p.rotate) ? { webhook: str(p.rotate.webhook), warning: str(p.rotate.warning) } : null;
  return {
    sealed,
    preview: {
      tool: str(p.tool), action, summary: str(p.summary), page: page(p.page), notice: notice(p.notice),
      notify: typeof p.notify === "boolean" ? p.notify : null, notify_consequence: str(p.notify_consequence),
      delete: del, rotate: rot, expires_at: str(p.expires_at),
    },
  };
}

/** The text blocks of a result, joined: what the gateway said, to show as text. */
export function resultText(result: CallToolResult): string {
  const blocks = Array.isArray(result.content) ? result.content : [];
  return blocks
    .filter((b): b is { type: "text"; text: string } => isObj(b) && b.type === "text" && typeof b.text === "string")
    .map((b) => b.text)
    .join("\n\n");
}

/** The arguments of `publish_draft`: the draft and only the corrections the contract allows for this preview. */
export function publishArguments(draft: Draft, edits: { text: string | null; notify: boolean | null; typed: string | null }): Obj {
  const p = draft.preview;
  const args: Obj = { draft: draft.sealed };
  if (p.notice?.text != null && edits.text !== null && edits.text !== p.notice.text) args.text = edits.text;
  if (p.notify !== null && edits.notify !== null) args.notify = edits.notify;
  if (p.delete?.type_to_confirm != null && edits.typed !== null) args.typed_name = edits.typed;
  return args;
}
