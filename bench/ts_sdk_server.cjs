// A benchmark peer: the TypeScript MCP SDK's own server (1.x or 2.x), stateless Streamable HTTP with JSON answers.
//
//   node bench/ts_sdk_server.cjs MAJOR MODULES PEER_JSON WORKERS UPSTREAM
//
// MAJOR is 1 (@modelcontextprotocol/sdk) or 2 (@modelcontextprotocol/server with @modelcontextprotocol/node's
// transport), MODULES the folder whose node_modules holds that SDK (.node/ts-sdk-1 or .node/ts-sdk-2, installed by
// scripts/install_node.sh), PEER_JSON what bench/peers.py dumped from the gateway: the tool definitions its /mcp
// lists and the search_docs result for each benchmark question (computed by the gateway's own handler over the
// same index, as the Python SDK peer's cached search answers them). UPSTREAM is the sandbox's status page URL
// without the subdomain, for get_status_page.
//
// Each request gets a fresh low-level `Server` and a stateless transport (sessionIdGenerator undefined,
// enableJsonResponse true): the SDK's documented stateless pattern in both majors. The low-level `Server` is the
// class McpServer is built on; it serves hand-written JSON Schema verbatim (1.x's McpServer takes only zod and
// regenerates JSON Schema on every tools/list), so the peer lists exactly the gateway's bytes-for-content tools and
// pays the least the SDK lets it pay.
//
// With WORKERS > 1 the `cluster` module forks that many workers on one port (the primary hands out connections,
// round-robin, Node's default on Linux). `LISTENING <url>` is printed once every worker listens.
'use strict';

const cluster = require('node:cluster');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { createRequire } = require('node:module');

const [major, modules, peerJson, workersArg, upstream] = process.argv.slice(2);
const workers = Number(workersArg || 1);

function packageVersion(name) {
    const manifest = path.join(modules, 'node_modules', '@modelcontextprotocol', name, 'package.json');
    return JSON.parse(fs.readFileSync(manifest, 'utf8')).version;
}

function load() {
    const need = createRequire(path.join(path.resolve(modules), 'package.json'));
    if (major === '1') {
        const { Server } = need('@modelcontextprotocol/sdk/server/index.js');
        const { StreamableHTTPServerTransport } = need('@modelcontextprotocol/sdk/server/streamableHttp.js');
        const { ListToolsRequestSchema, CallToolRequestSchema } = need('@modelcontextprotocol/sdk/types.js');
        return {
            version: packageVersion('sdk'), Server, Transport: StreamableHTTPServerTransport,
            handle: (server, method, fn) =>
                server.setRequestHandler(method === 'tools/list' ? ListToolsRequestSchema : CallToolRequestSchema,
                    (request, extra) => fn(request, (extra.requestInfo && extra.requestInfo.headers.authorization) || '')),
        };
    }
    if (major === '2') {
        const { Server } = need('@modelcontextprotocol/server');
        const { NodeStreamableHTTPServerTransport } = need('@modelcontextprotocol/node');
        return {
            version: packageVersion('server'), Server, Transport: NodeStreamableHTTPServerTransport,
            handle: (server, method, fn) =>
                server.setRequestHandler(method, (request, ctx) =>
                    fn(request, (ctx.http && ctx.http.req && ctx.http.req.headers.get('authorization')) || '')),
        };
    }
    throw new Error(`MAJOR must be 1 or 2, not ${major}`);
}

function serve(sdk) {
    const peer = JSON.parse(fs.readFileSync(peerJson, 'utf8'));
    const tools = peer.tools;
    const answers = new Map(Object.entries(peer.search));
    const upstreamBase = upstream.replace(/\/$/, '');

    const structured = (result) => ({ content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result });
    const failed = (text) => ({ content: [{ type: 'text', text }], isError: true });

    async function callTool(request, authorization) {
        const { name, arguments: args = {} } = request.params;
        if (name === 'search_docs') {
            const found = answers.get(args.query);
            return found ? structured(found) : failed(`search_docs: the peer knows only the benchmark's questions`);
        }
        if (name === 'get_status_page') {
            const response = await fetch(`${upstreamBase}/${encodeURIComponent(args.subdomain)}`,
                { headers: { Authorization: authorization, Accept: 'application/json' } });
            const body = await response.json();
            return response.ok ? structured(body) : failed(JSON.stringify(body));
        }
        return failed(`${name} is only listed, never called, by the benchmark`);
    }

    function newServer() {
        const server = new sdk.Server({ name: 'statuspal-ts-sdk-bench', version: sdk.version },
            { capabilities: { tools: {} } });
        sdk.handle(server, 'tools/list', () => ({ tools }));
        sdk.handle(server, 'tools/call', callTool);
        return server;
    }

    const httpServer = http.createServer(async (req, res) => {
        if (req.method !== 'POST' || req.url !== '/mcp') {
            res.writeHead(404).end();
            return;
        }
        const server = newServer();
        const transport = new sdk.Transport({ sessionIdGenerator: undefined, enableJsonResponse: true });
        res.on('close', () => {
            transport.close();
            server.close();
        });
        try {
            await server.connect(transport);
            await transport.handleRequest(req, res);
        } catch (error) {
            if (!res.headersSent) res.writeHead(500).end(String(error));
        }
    });
    httpServer.keepAliveTimeout = 75_000;
    return httpServer;
}

function listening(port) {
    console.log(`LISTENING http://127.0.0.1:${port} (TypeScript SDK ${packageVersion(major === '1' ? 'sdk' : 'server')}, ${workers} worker${workers > 1 ? 's' : ''})`);
}

if (workers <= 1) {
    const server = serve(load());
    server.listen(0, '127.0.0.1', 1024, () => listening(server.address().port));
} else if (cluster.isPrimary) {
    let ready = 0;
    let port = 0;
    for (let i = 0; i < workers; i++) cluster.fork();
    cluster.on('listening', (_worker, address) => {
        port = address.port;
        if (++ready === workers) listening(port);
    });
    cluster.on('exit', (worker, code, signal) => {
        if (!stopping) console.error(`worker ${worker.process.pid} exited (${signal || code})`);
    });
    let stopping = false;
    for (const sig of ['SIGTERM', 'SIGINT']) {
        process.on(sig, () => {
            stopping = true;
            for (const worker of Object.values(cluster.workers)) worker.kill();
            process.exit(0);
        });
    }
} else {
    // In a cluster, listen(0) gives every worker the same port: the primary's.
    serve(load()).listen(0, '127.0.0.1', 1024);
}
