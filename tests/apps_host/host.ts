// A small web host for MCP Apps views, for the browser tests: the ext-apps SDK's AppBridge talks to the view
// (through the sandbox proxy, on another origin, as the spec requires of web hosts), and the view's tools/call goes
// to an MCP server over HTTP: the gateway through the MCP TypeScript client (declaring the apps extension, with the
// demo key), or a test endpoint that answers recorded results. Bundled at test time from the view's pinned packages.
//
// The test drives it through `window.testHost` and reads what happened from `window.testHost.log`.

import {
  AppBridge,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
  getToolUiResourceUri,
  type McpUiHostContext,
} from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport, type CallToolResult, type Tool } from "@modelcontextprotocol/client";

const UI_EXTENSION = "io.modelcontextprotocol/ui";
const HOST_INFO = { name: "statuspal-test-host", version: "1.0.0" };

interface CallParams {
  name: string;
  arguments?: Record<string, unknown>;
}

const log = {
  appCalls: [] as CallParams[], // tools/call requests the view made, as the host received them
  refused: [] as string[], // tools/call requests this host refused (not an app tool)
  modelContext: [] as unknown[], // ui/update-model-context requests
  sizes: [] as Array<{ width?: number; height?: number }>,
  initialized: false,
  appInfo: null as unknown,
  appProtocolVersion: null as unknown,
  results: [] as CallToolResult[], // what the server answered the view
  modelResult: null as CallToolResult | null, // the model's call, as the server answered it
  tools: [] as Tool[],
  view: null as { uri: string; html: string } | null, // the view as the server gave it (gateway mode)
  protocolVersion: null as string | null, // what the host's MCP client and the gateway agreed on (gateway mode)
};

let current: AppBridge | null = null; // the mounted view's bridge

function status(text: string) {
  document.getElementById("host-status")!.textContent = text;
}

async function proxyFrame(sandboxUrl: string): Promise<HTMLIFrameElement> {
  const frame = document.createElement("iframe");
  frame.id = "view";
  frame.title = "StatusPal publish preview";
  frame.setAttribute("sandbox", "allow-scripts allow-same-origin");
  const ready = new Promise<void>((resolve) => {
    const listen = (event: MessageEvent) => {
      if (event.source === frame.contentWindow && event.data?.method === "ui/notifications/sandbox-proxy-ready") {
        window.removeEventListener("message", listen);
        resolve();
      }
    };
    window.addEventListener("message", listen);
  });
  frame.src = sandboxUrl;
  document.getElementById("stage")!.replaceChildren(frame);
  await ready;
  return frame;
}

async function mount(options: {
  html: string;
  sandboxUrl: string;
  theme: "light" | "dark" | "system";
  input: Record<string, unknown>;
  result: () => Promise<CallToolResult>;
  callTool: (params: CallParams) => Promise<CallToolResult>;
}): Promise<void> {
  document.body.classList.toggle("dark", options.theme === "dark");
  const frame = await proxyFrame(options.sandboxUrl);
  // "system": a host that names no theme, leaving the view to the person's prefers-color-scheme.
  const hostContext: McpUiHostContext = {
    ...(options.theme === "system" ? {} : { theme: options.theme }),
    displayMode: "inline", availableDisplayModes: ["inline"], locale: "en-GB", timeZone: "UTC", platform: "web",
    containerDimensions: { width: 680, maxHeight: 2000 },
  };
  const bridge = new AppBridge(null, HOST_INFO, { serverTools: {}, updateModelContext: { text: {} }, logging: {} }, { hostContext });
  bridge.oncalltool = async (params) => {
    log.appCalls.push(params as CallParams);
    const result = await options.callTool(params as CallParams);
    log.results.push(result);
    return result;
  };
  bridge.onupdatemodelcontext = async (params) => {
    log.modelContext.push(params);
    return {};
  };
  bridge.onsizechange = ({ width, height }) => {
    log.sizes.push({ width, height });
    if (height !== undefined) frame.style.height = `${height}px`;
  };
  const initialized = new Promise<void>((resolve) => {
    bridge.oninitialized = () => resolve();
  });
  await bridge.connect(new PostMessageTransport(frame.contentWindow!, frame.contentWindow!));
  current = bridge;
  await bridge.sendSandboxResourceReady({ html: options.html });
  await initialized;
  log.initialized = true;
  log.appInfo = bridge.getAppVersion() ?? null;
  await bridge.sendToolInput({ arguments: options.input });
  const result = await options.result();
  log.modelResult = result;
  await bridge.sendToolResult(result);
  status("Test host: view mounted, tool result sent.");
}

/** Recorded mode: the model's result is given; the view's calls go to a test endpoint that records and answers. */
async function mountRecorded(args: {
  html: string; sandboxUrl: string; theme: "light" | "dark" | "system"; input: Record<string, unknown>;
  result: CallToolResult; callUrl: string;
}): Promise<void> {
  await mount({
    ...args,
    result: async () => args.result,
    callTool: async (params) => {
      const response = await fetch(args.callUrl, { method: "POST", body: JSON.stringify(params), headers: { "Content-Type": "application/json" } });
      if (!response.ok) throw new Error(`the test endpoint answered ${response.status}`);
      return (await response.json()) as CallToolResult;
    },
  });
}

/** Gateway mode: a real MCP client, declaring the apps extension; the host finds the view from the tool's
 * `_meta.ui`, reads it with resources/read, makes the model's call, and forwards the view's calls, refusing any
 * tool the server did not list for apps (a host MUST refuse app calls to tools without "app" visibility). */
async function mountFromGateway(args: {
  mcpUrl: string; apiKey: string; sandboxUrl: string; theme: "light" | "dark"; tool: string; input: Record<string, unknown>;
  era: "handshake" | "2026-07-28";
}): Promise<void> {
  // Either era: the handshake (initialize states the capability once, the session carries it) or 2026-07-28 (the
  // capability rides in every request's _meta), as the client's version negotiation is told.
  const client = new Client(HOST_INFO, {
    capabilities: { extensions: { [UI_EXTENSION]: { mimeTypes: [RESOURCE_MIME_TYPE] } } },
    ...(args.era === "handshake" ? {} : { versionNegotiation: { mode: { pin: args.era } } }),
  });
  const transport = new StreamableHTTPClientTransport(new URL(args.mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${args.apiKey}` } },
  });
  await client.connect(transport);
  log.protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  log.tools = tools;
  const tool = tools.find((t) => t.name === args.tool);
  if (!tool) throw new Error(`the gateway lists no ${args.tool}`);
  const uri = getToolUiResourceUri(tool);
  if (!uri) throw new Error(`${args.tool} has no _meta.ui.resourceUri`);
  const read = await client.readResource({ uri });
  const content = read.contents[0] as { mimeType?: string; text?: string; blob?: string };
  if (read.contents.length !== 1 || content.mimeType !== RESOURCE_MIME_TYPE) {
    throw new Error(`${uri} is not one ${RESOURCE_MIME_TYPE} document`);
  }
  const html = content.text ?? new TextDecoder().decode(Uint8Array.from(atob(content.blob ?? ""), (c) => c.charCodeAt(0)));
  log.view = { uri, html };
  const appTool = (name: string) => {
    const t = tools.find((candidate) => candidate.name === name);
    const visibility = (t?._meta as { ui?: { visibility?: string[] } } | undefined)?.ui?.visibility ?? ["model", "app"];
    return t !== undefined && visibility.includes("app");
  };
  await mount({
    html, sandboxUrl: args.sandboxUrl, theme: args.theme, input: args.input,
    result: () => client.callTool({ name: args.tool, arguments: args.input }) as Promise<CallToolResult>,
    callTool: async (params) => {
      if (!appTool(params.name)) {
        log.refused.push(params.name);
        throw new Error(`${params.name} is not a tool this server offers to apps`);
      }
      return (await client.callTool(params)) as CallToolResult;
    },
  });
}

/** The CSP check the tests rely on: mount a view that tries to reach the network and report what was blocked. */
async function mountCanary(args: { sandboxUrl: string; probeUrl: string }): Promise<void> {
  // The canary lists each refusal it is told of, so the test waits for them rather than for a guessed delay.
  const html = `<!doctype html><html><body><p id="c">canary</p><ul id="refused"></ul><script>
    document.addEventListener("securitypolicyviolation", (e) => {
      const item = document.createElement("li"); item.textContent = e.effectiveDirective;
      document.getElementById("refused").append(item);
    });
    fetch(${JSON.stringify(args.probeUrl)}).catch(() => {});
    const img = new Image(); img.src = ${JSON.stringify(args.probeUrl)};
  </script></body></html>`;
  const frame = await proxyFrame(args.sandboxUrl);
  frame.contentWindow!.postMessage({ jsonrpc: "2.0", method: "ui/notifications/sandbox-resource-ready", params: { html } }, "*");
}

/** The host's theme changes while the view is shown (a person toggles dark mode). */
async function setTheme(theme: "light" | "dark"): Promise<void> {
  document.body.classList.toggle("dark", theme === "dark");
  await current!.sendHostContextChange({ theme });
}

/** The host is about to unmount the view: the spec's teardown request, answered before the frame goes. */
async function teardown(): Promise<unknown> {
  return current!.teardownResource({});
}

(window as unknown as { testHost: unknown }).testHost = { log, mountRecorded, mountFromGateway, mountCanary, setTheme, teardown };
