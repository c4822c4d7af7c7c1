"""The `check-api` command: its arguments, the key taken from the environment only, the check on its own event
loop, and the report printed with its exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any

from gateway.check_api.report import OK, Report, failure_verdict
from gateway.check_api.walk import Checker
from gateway.config import ConfigError, Settings, load_settings
from gateway.statuspal.client import StatusPalClient
from gateway.statuspal.endpoints import EndpointTable
from gateway.statuspal.errors import UpstreamAuthError, UpstreamError, UpstreamUnavailable

KEY_ENV = "STATUSPAL_MCP_CHECK_API_KEY"

log = logging.getLogger("gateway.check_api")


class CheckUsageError(Exception):
    """A problem with how check-api was started (no key, a refused key, no such page): one line, exit 2."""


def add_parser(commands: Any) -> None:
    """Register `check-api` on the CLI's subcommands."""
    parser = commands.add_parser(
        "check-api",
        help="check the endpoint table and notice mapping against a real StatusPal (throwaway key, one page)",
        description=(
            f"Walks every StatusPal endpoint the gateway uses, with notify: false, on one page only, and deletes what "
            f"it made. The API key is read from the environment variable {KEY_ENV}, never from an argument."
        ),
    )
    parser.add_argument("--config", metavar="PATH", help="config file (default: the repository's config.toml)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--subdomain", metavar="PAGE", help="a status page made for the check (it is never deleted)")
    where.add_argument("--create-page", action="store_true", help="create a page for the check and delete it after")
    parser.add_argument("--base-url", metavar="URL", help="StatusPal API base URL (default: statuspal.base_url)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.add_argument("--skip-page-endpoints", action="store_true",
                        help="with --subdomain: accept that creating and deleting a page is not checked")
    parser.add_argument("--i-have-no-subscribers", dest="no_subscribers", action="store_true",
                        help="with --subdomain: the page has no subscribers, so notices may be posted to it")
    parser.add_argument("--notify-field", metavar="NAME",
                        help="with --subdomain: the notify field this StatusPal reads, as configured (confirms it)")
    # Refused, with a reason, so a key typed here is neither used nor echoed back in an argparse error.
    parser.add_argument("--key", "--api-key", dest="refused_key", nargs="?", const="", default=None, help=argparse.SUPPRESS)
    parser.add_argument("stray", nargs="*", help=argparse.SUPPRESS)
    parser.set_defaults(func=cmd_check_api)


def cmd_check_api(args: argparse.Namespace) -> int:
    # Neither message repeats what was typed: it may be a key.
    if args.refused_key is not None:
        raise ConfigError(
            f"check-api takes the API key only from the environment variable {KEY_ENV} (a key on the command line "
            "ends up in shell history and process listings)"
        )
    if args.stray:
        raise ConfigError(f"check-api takes no positional arguments (the API key goes in the environment variable {KEY_ENV})")
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise ConfigError(f"set {KEY_ENV} to a throwaway StatusPal API key for the check")
    overrides = {"statuspal": {"base_url": args.base_url}} if args.base_url else None
    settings = load_settings(args.config, overrides=overrides)
    configured = settings.statuspal.notices.notify_field
    if args.notify_field is not None and args.notify_field != configured:
        raise ConfigError(
            f"--notify-field {args.notify_field!r} is not the configured notify field {configured!r}: set "
            "statuspal.notices.notify_field (or STATUSPAL_MCP_STATUSPAL_NOTICES_NOTIFY_FIELD) to the name this StatusPal reads"
        )
    from gateway.observability.logs import configure_logging

    configure_logging(settings)
    try:
        report = asyncio.run(run_check(
            settings, key, args.subdomain, args.create_page, skip_page_endpoints=args.skip_page_endpoints,
            post_notices=args.create_page or args.no_subscribers or args.notify_field is not None,
        ))
    except CheckUsageError as exc:
        raise ConfigError(str(exc)) from None
    print(json.dumps(report.as_json(), indent=2) if args.json else report.as_text(), flush=True)
    return report.exit_code


async def run_check(settings: Settings, key: str, subdomain: str | None, create_page: bool, *,
                    skip_page_endpoints: bool = False, post_notices: bool | None = None) -> Report:
    """The whole check on the running loop, without the command line around it: tests of its verdicts call it
    in their own process, where a child process per check would cost seconds of start-up each.

    Notices are posted on a page the check made (no subscribers), and on a given page only when the caller
    says so (`post_notices`): a notify field this StatusPal does not read would email that page's subscribers."""
    post_notices = create_page if post_notices is None else post_notices
    table = EndpointTable.from_settings(settings.statuspal)
    client = StatusPalClient(settings.statuspal, table)
    await client.start()
    try:
        try:
            api = client.for_key(key)
            await api.check_key()
        except UpstreamAuthError as err:
            raise CheckUsageError(f"StatusPal refused the key in {KEY_ENV} ({err.status} {err.code})") from None
        except UpstreamUnavailable as err:
            raise CheckUsageError(f"could not check the key at {settings.statuspal.base_url}: {err.message or err.code}") from None
        checker = Checker(api, table, subdomain=subdomain, create_page=create_page,
                          skip_page_endpoints=skip_page_endpoints, post_notices=post_notices)
        checker.row("status_pages_list").record(OK)
        if subdomain is not None:
            try:
                await api.call("status_pages_get", {"subdomain": subdomain})
            except UpstreamError as err:
                raise CheckUsageError(f"status page {subdomain!r} cannot be used for the check: {failure_verdict(err)[1]}") from None
        await _walk_then_clean(checker)
        return checker.report(settings.statuspal.base_url)
    finally:
        await client.close()


async def _walk_then_clean(checker: Checker) -> None:
    """Walk; SIGINT/SIGTERM cancel the walk only, so the cleanup always runs to its end."""
    loop = asyncio.get_running_loop()
    walk = asyncio.create_task(checker.walk())

    def stop() -> None:
        if not walk.done():
            print("check-api: interrupted; deleting what the check made...", file=sys.stderr, flush=True)
            walk.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signal support
            pass
    try:
        await walk
    except asyncio.CancelledError:
        checker.interrupted = True
    except Exception:
        # Not a finding: a bug or an answer no step expected. The rows left "not run" make the exit code 1.
        log.exception("check-api walk failed")
        checker.note("the check stopped on an unexpected error (see the log); what it made is deleted below")
    finally:
        # A second signal during cleanup is ignored: stopping here would leave what the check made behind.
        await checker.cleanup()
        for sig in installed:
            loop.remove_signal_handler(sig)
