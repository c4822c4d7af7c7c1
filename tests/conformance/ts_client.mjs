// The TypeScript SDK's own client (@modelcontextprotocol/sdk) against one gateway URL: connect, list the
// tools, optionally call one, print what it saw as one JSON line. The SDK comes from the conformance suite's
// install (MCP_SDK_DIR), so no second copy is installed for this.
//
// usage: node ts_client.mjs <url> <bearer> [<{"name": ..., "arguments": {...}}>]
// env:   MCP_SDK_DIR (required), MCP_EXTRA_HEADERS (JSON object of further request headers)
import { pathToFileURL } from "node:url";

const sdk = process.env.MCP_SDK_DIR;
const { Client } = await import(pathToFileURL(`${sdk}/dist/esm/client/index.js`).href);
const { StreamableHTTPClientTransport } = await import(pathToFileURL(`${sdk}/dist/esm/client/streamableHttp.js`).href);

const [url, bearer, call] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${bearer}`, ...JSON.parse(process.env.MCP_EXTRA_HEADERS || "{}") };
const client = new Client({ name: "surfaces-ts-client", version: "1.0.0" });
const out = {};
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
} catch (error) {
  console.log(JSON.stringify({ connectError: String(error?.message ?? error), code: error?.code ?? null }));
  process.exit(0);
}
out.tools = (await client.listTools()).tools.map((tool) => ({
  name: tool.name,
  properties: Object.keys(tool.inputSchema?.properties ?? {}),
}));
if (call) {
  const { name, arguments: args } = JSON.parse(call);
  try {
    out.call = await client.callTool({ name, arguments: args });
  } catch (error) {
    out.callError = { code: error?.code ?? null, message: String(error?.message ?? error) };
  }
}
console.log(JSON.stringify(out));
await client.close();
