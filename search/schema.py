"""What the index stores and how text becomes terms: one analyzer for pages and queries, the schema, the synonyms.

Pages and queries go through the same analyzer, so a query word matches a page word exactly when their stems
agree ("rotating" finds "rotate"). Identifiers are indexed whole and in parts (`per_page` → per_page, per,
page): users type them as words ("per page"), while a model asks about `resolve_incident` by its exact name,
which is rare and therefore a strong signal.
"""

from __future__ import annotations

from functools import lru_cache

from whoosh.analysis import Filter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.analysis.filters import STOP_WORDS
from whoosh.fields import ID, STORED, TEXT, Schema

# Words that carry no meaning in a question ("how do I …", "what is the …"): whoosh's English list plus
# question words. Dropped from pages too, so positions (and phrase queries) agree on both sides.
STOPWORDS = frozenset(STOP_WORDS) | frozenset(
    """how do does did doing done what which who whom whose why where i me my mine our ours they them their
    there its is am was were been being has had so than then these those also just about into any some
    should would could shall must might way want wants need needs like please tell know get gets getting got
    say says said""".split()
)


class IdentifierFilter(Filter):
    """Follow each `snake_case` token with its parts; StopFilter (next) renumbers positions, so phrases work."""

    def __call__(self, tokens):
        for t in tokens:
            text = t.text
            parts = [p for p in text.split("_") if p]
            # Downstream filters rewrite the shared token in place, so read the offsets before yielding it.
            start = t.startchar if t.chars else 0
            yield t
            if len(parts) < 2:
                continue
            offset = 0
            for part in parts:
                offset = text.index(part, offset)
                t.text = t.original = part
                if t.chars:
                    t.startchar, t.endchar = start + offset, start + offset + len(part)
                offset += len(part)
                yield t


ANALYZER = RegexTokenizer(r"\w+") | IdentifierFilter() | LowercaseFilter() | StopFilter(stoplist=STOPWORDS) | StemFilter()

# Query-time weight of each field (multiplying Whoosh's BM25F score in that field). Headings are a few words
# long, so BM25's length normalisation already scores a heading match high: a boost below 1 keeps a heading
# that merely shares one word ("Get an API key") from outranking the section whose prose answers the question.
# The trail and title repeat the headings above, so they only break ties. Code samples repeat field names
# everywhere and count for little. Chosen on half of tests/relevance_questions.toml and checked on the other.
FIELD_BOOSTS: dict[str, float] = {"heading": 0.8, "trail": 0.3, "title": 0.2, "body": 1.0, "code": 0.3}
TEXT_FIELDS = tuple(FIELD_BOOSTS)

SCHEMA = Schema(
    key=ID(stored=True, unique=True),  # "<slug>#<anchor>"
    url=STORED(),
    page=ID(stored=True),
    title=TEXT(analyzer=ANALYZER, stored=True),
    trail=TEXT(analyzer=ANALYZER, stored=True),  # heading trail joined with " › "
    heading=TEXT(analyzer=ANALYZER, spelling=True),
    body=TEXT(analyzer=ANALYZER, stored=True, spelling=True),
    code=TEXT(analyzer=ANALYZER, stored=True, spelling=True),
    # Prose and code in reading order (search.corpus.Section.passages), for excerpts only.
    passages=STORED(),
)

# Words users and the docs use for the same thing. Each group is expanded at query time (never at index
# time, so a rebuild is not needed to tune them); a synonym counts for less than the word the user typed.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("incident", "notice", "outage", "downtime"),
    ("region", "container", "group"),
    ("maintenance", "scheduled", "planned"),
    ("webhook", "callback"),
    ("key", "token", "credential"),
    ("rotate", "regenerate"),
    ("delete", "remove"),
)
SYNONYM_WEIGHT = 0.8


def analyze(text: str) -> list[tuple[str, str]]:
    """(stem, original word) for every meaningful word of `text`, in order."""
    return [(t.text, t.original.lower()) for t in ANALYZER(text, keeporiginal=True)]


def stem(word: str) -> str | None:
    terms = analyze(word)
    return terms[0][0] if terms else None


@lru_cache(maxsize=1)
def synonym_map() -> dict[str, tuple[str, ...]]:
    """Stem → the stems of its synonyms; computed once, the groups are fixed."""
    mapping: dict[str, list[str]] = {}
    for group in SYNONYM_GROUPS:
        stems = [s for s in (stem(w) for w in group) if s]
        for s in stems:
            mapping.setdefault(s, [])
            mapping[s].extend(o for o in stems if o != s and o not in mapping[s])
    return {k: tuple(v) for k, v in mapping.items()}
