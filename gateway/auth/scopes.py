"""The OAuth scopes a grant can hold, which each tool names and each token carries.

A leaf, so the tools, the credential check and the OAuth server share one definition without importing
one another.
"""

from __future__ import annotations

import itertools

READ = "statuspal:read"
WRITE = "statuspal:write"
# Every scope a tool can require, in the canonical order tokens carry them.
TOOL_SCOPES = (READ, WRITE)
# Offered in discovery so clients that only ask for refresh tokens when it is listed get one; never required
# (every grant gets a refresh token anyway) and never granted to a tool.
OFFLINE_ACCESS = "offline_access"
SCOPES_SUPPORTED = (READ, WRITE, OFFLINE_ACCESS)

# The scope strings we issue, parsed once: every request on a sealed token needs its scopes as a set.
_SCOPE_SETS = {" ".join(c): frozenset(c) for n in range(1, len(TOOL_SCOPES) + 1) for c in itertools.combinations(TOOL_SCOPES, n)}


def normalise_scope(scope: str) -> str:
    """The scopes we know, in our canonical order; unknown ones are dropped, never an error: clients send
    their own (claude.ai has sent "claudeai"), and refusing them would strand the sign-in."""
    requested = set(scope.split())
    return " ".join(s for s in TOOL_SCOPES if s in requested)


def scope_set(scope: str) -> frozenset[str]:
    """The tool scopes in a space-separated scope string, as a set (a dictionary lookup for the ones we issue)."""
    scopes = _SCOPE_SETS.get(scope)
    return scopes if scopes is not None else frozenset(scope.split()) & frozenset(TOOL_SCOPES)
