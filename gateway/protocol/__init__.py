"""MCP itself, without HTTP: JSON-RPC messages, the methods of both eras, the tools/call pipeline and its results."""
