"""`statuspal-mcp check-api`: the contract check an operator runs once against the real StatusPal.

Most of the endpoint table is confirmed by StatusPal's own client code, but no public source shows the
notices API or the webhook secret rotation, and StatusPal is a Rails application that drops a body field
it does not know without any error. So before writes are enabled, an operator runs this once with a
throwaway key: it walks every endpoint of the table with exactly the client, endpoint table and notice
wire mapping `serve` would use with the same config, reads back after every write, and says per endpoint
whether StatusPal applied what was sent, plus the config lines that would fix what it can infer.

Safety, because it writes to a live StatusPal:
- It works on one page only: a page made for the check (`--subdomain`) or one it creates and deletes
  (`--create-page`). The webhook it makes is scoped to that page, never to all pages. It deletes only what
  it made, by the identifiers it tracked; a create whose answer was lost is found again by the run's own
  unique marker in the title or name, never by a list-wide sweep.
- Every notice is sent with notify: false, and the webhook points at a `.invalid` host (RFC 6761: never
  resolves), so nobody outside is reached.
- Cleanup runs in `finally`, and SIGINT/SIGTERM cancel the walk but never the cleanup.
- The key comes only from the environment (`STATUSPAL_MCP_CHECK_API_KEY`): a key on the command line would
  land in shell history and in every process listing. It is never printed or logged; webhook secrets are
  never shown either, only whether the answer carried one.
"""

from gateway.check_api.command import KEY_ENV, add_parser, run_check

__all__ = ["KEY_ENV", "add_parser", "run_check"]
