// The view's side of the MCP Apps protocol (io.modelcontextprotocol/ui, 2026-01-26), written by hand: JSON-RPC 2.0
// over postMessage with the one window that embeds the view. The SDK's `App` does the same in about 650 KB once its
// MCP client and zod (every zod locale: they do not tree-shake) are inlined; this view needs the handshake, three
// notifications in, two requests out and the size report, so the whole bridge stays readable in review. The message
// shapes are type-checked against the SDK's own declarations, and the browser test runs this bridge against the
// SDK's host side (AppBridge), so a drift from the reference implementation fails a test.

import type {
  McpUiAppCapabilities,
  McpUiHostContext,
  McpUiInitializeRequest,
  McpUiInitializeResult,
  McpUiSizeChangedNotification,
  McpUiUpdateModelContextRequest,
} from "@modelcontextprotocol/ext-apps";
import type { CallToolRequest, CallToolResult, Implementation } from "@modelcontextprotocol/client";

export const PROTOCOL_VERSION: McpUiInitializeRequest["params"]["protocolVersion"] = "2026-01-26";

type Json = Record<string, unknown>;
type Pending = { resolve: (result: unknown) => void; reject: (error: Error) => void; timer: number };

export class RpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

export class HostBridge {
  onToolResult: (result: CallToolResult) => void = () => {};
  onHostContext: (context: Partial<McpUiHostContext>) => void = () => {};
  onToolCancelled: (reason: string | undefined) => void = () => {};

  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  // Listening starts here, before the handshake: a host may send the tool result right after it answers
  // ui/initialize, and a notification that arrives with no listener is lost.
  constructor(private readonly host: Window = window.parent) {
    window.addEventListener("message", (event) => this.receive(event));
  }

  async connect(appInfo: Implementation, appCapabilities: McpUiAppCapabilities = {}): Promise<McpUiInitializeResult> {
    const params: McpUiInitializeRequest["params"] = { appInfo, appCapabilities, protocolVersion: PROTOCOL_VERSION };
    const result = (await this.request("ui/initialize", params, 30_000)) as McpUiInitializeResult;
    // The host sends nothing (tool input, result) until it has this notification.
    this.notify("ui/notifications/initialized");
    this.reportSize();
    return result;
  }

  callTool(params: CallToolRequest["params"], timeoutMs: number): Promise<CallToolResult> {
    return this.request("tools/call", params, timeoutMs) as Promise<CallToolResult>;
  }

  async updateModelContext(params: McpUiUpdateModelContextRequest["params"]): Promise<void> {
    await this.request("ui/update-model-context", params, 30_000);
  }

  private request(method: string, params: Json, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError(-32001, `the host did not answer ${method} within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.post({ jsonrpc: "2.0", id, method, params });
    });
  }

  private notify(method: string, params?: Json): void {
    this.post(params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params });
  }

  // "*": the view cannot know the host's origin (a sandbox proxy of the host's choosing sits in between, and the
  // view's own origin is opaque); the target is the fixed parent window, which the sandboxed view cannot navigate.
  private post(message: Json): void {
    this.host.postMessage(message, "*");
  }

  private receive(event: MessageEvent): void {
    // Only the embedding window speaks for the host; another frame or an opened window posting here is ignored.
    if (event.source !== this.host) return;
    const message = event.data as Json | null;
    if (!message || typeof message !== "object" || message.jsonrpc !== "2.0") return;
    const { id, method } = message;
    if (typeof method === "string") {
      if (id === undefined) this.onNotification(method, (message.params ?? {}) as Json);
      else this.onRequest(id, method);
      return;
    }
    if (typeof id !== "number") return;
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    window.clearTimeout(pending.timer);
    const error = message.error as { code?: unknown; message?: unknown } | undefined;
    if (error && typeof error === "object") {
      pending.reject(new RpcError(Number(error.code ?? -32603), String(error.message ?? "the host refused the request")));
    } else {
      pending.resolve(message.result);
    }
  }

  private onNotification(method: string, params: Json): void {
    switch (method) {
      case "ui/notifications/tool-result":
        this.onToolResult(params as unknown as CallToolResult);
        break;
      case "ui/notifications/host-context-changed":
        this.onHostContext(params as Partial<McpUiHostContext>);
        break;
      case "ui/notifications/tool-cancelled":
        this.onToolCancelled(typeof params.reason === "string" ? params.reason : undefined);
        break;
      default:
        // tool-input and tool-input-partial: the preview is drawn from the result alone, never from the model's
        // arguments, so what the person approves is what the gateway sealed.
        break;
    }
  }

  private onRequest(id: unknown, method: string): void {
    // ping and the host's teardown notice need only an answer: the view keeps no state worth saving.
    if (method === "ping" || method === "ui/resource-teardown") {
      this.post({ jsonrpc: "2.0", id: id as number, result: {} });
    } else {
      this.post({ jsonrpc: "2.0", id: id as number, error: { code: -32601, message: `the view does not handle ${method}` } });
    }
  }

  // Hosts size the frame from these reports (flexible height); the same measure as the SDK's autoResize.
  private lastSize = "";
  private reportSize(): void {
    let queued = false;
    const measure = () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        const root = document.documentElement;
        const height = root.style.height;
        root.style.height = "max-content";
        const size: McpUiSizeChangedNotification["params"] = {
          width: Math.ceil(window.innerWidth),
          height: Math.ceil(root.getBoundingClientRect().height),
        };
        root.style.height = height;
        const key = `${size.width}x${size.height}`;
        if (key === this.lastSize) return;
        this.lastSize = key;
        this.notify("ui/notifications/size-changed", size as Json);
      });
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(document.documentElement);
    observer.observe(document.body);
  }
}
