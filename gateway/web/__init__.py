"""HTTP on aiohttp: connections, request middleware, the Streamable HTTP transport, sessions, limits, CORS,
credentials from headers, the operations endpoints and the server card. The only layer (with oauth/) that picks
HTTP statuses."""
