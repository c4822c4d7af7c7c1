"""The server `instructions` (sent with `initialize` and `server/discover`): the vocabulary every tool shares.

What holds for many tools is said here once instead of in every tool definition, which keeps `tools/list` lean
(each client pays for it in every conversation) while a tool's own description keeps what sets it apart. Each
rule here is one a model otherwise gets wrong: guessing a slug from a display name, notifying subscribers
without asking, or changing something it has not looked at first.
"""

from __future__ import annotations

INSTRUCTIONS = """\
Manages the caller's own StatusPal status pages: pages, services, regions (containers), notices (incidents, \
maintenance, info) and outgoing webhooks, plus search_docs over the StatusPal API docs. Reads are safe at any time; \
every write acts on the live account and public page at once: confirm it with the user first.

Identifiers: a page is named by its subdomain (e.g. acme-status), a service or region by its slug within the page \
(e.g. api, eu; every page has the region `default`), a notice by id, a webhook by its wbk_ id. These are never the \
display names: look them up with list_status_pages, list_services, list_containers, list_notices or list_webhooks \
before a write, rather than guessing. Slugs are derived from names on create and returned.

notify: tools that can message a page's subscribers require notify, with no default. A notification cannot be \
recalled, so ask the user whether subscribers should be told; never assume.

Writes: update_ tools change only the fields passed and overwrite them (no history); a list argument (affected, \
events, status_page_subdomains) replaces the whole list. Every write is confirmed against what StatusPal then \
holds; if not all of it applied, the error says what is live now and the one call that corrects it. A write \
returns the record as the matching get_ tool does.

Lists return items (the records the get_ tool returns) with page, per_page, total_count and total_pages; all: true \
fetches every page, one request each (StatusPal allows 10 a second per key), and `truncated` says when a limit cut \
it short.

Meaning of values: service status ok, minor, major or maintenance (the worst across regions); page current_status \
operational, degraded or unavailable, derived from active notices and services. Notice states: incident open or \
resolved; maintenance scheduled, in_progress (from starts_at) or completed (at ends_at); info open or closed; \
null when StatusPal uses a word the gateway does not know (wire_state then shows it). Times are ISO 8601 with an \
offset, e.g. 2026-03-01T02:00:00Z."""
