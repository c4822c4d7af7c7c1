"""Who is calling and what they may reach: key ids, scopes, sealed tokens, the surface URL grammar, access tokens.

No aiohttp here: these are plain values and checks, so the OAuth endpoints, the transport and the tools can
all use them without importing one another. A surface lives here, not beside the protocol, because it is the
unit of a grant: a token's audience is a surface's URL, and checking one needs the grammar.
"""
