"""The search query language, parsed once into a small tree that each backend compiles.

For now: free words (all must match), "quoted phrases", `#1234` / `thread:#1234` for a thread number,
`from:`, `to:` and `subject:` (each takes a word or a "quoted phrase"). The last free word (or
`subject:` word) matches as a prefix, so results follow the user while they type. Field names the
language reserves for later (`tag:`, `folder:`, ...) are refused with a clear message instead of being
searched as text, so a query keeps its meaning when they arrive. Anything else with a colon
(`re:`, `10:30`, `http://...`) is ordinary text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 32

_FIELDS = {"from", "to", "subject", "thread"}
_RESERVED = {"tag", "filename", "has", "is", "assignee", "folder", "before", "after", "cc", "status"}
_FIELD = re.compile(r"([A-Za-z]+):")
_NUMBER = re.compile(r"#?(\d{1,18})")


class InvalidQuery(ValueError):
    """The query cannot be understood; the message says why, in words a user can act on."""


@dataclass(frozen=True)
class Term:
    """Text to match as words (`phrase`: adjacent and in order; `prefix`: the last word may be cut)."""

    text: str
    phrase: bool = False
    prefix: bool = False


@dataclass(frozen=True)
class Text:
    """A term anywhere in a message: subject, addresses, body, attachment names."""

    term: Term


@dataclass(frozen=True)
class Subject:
    term: Term


@dataclass(frozen=True)
class Address:
    """`from:` or `to:` (to includes cc): a part of the address or display name, diacritics folded."""

    field: str
    value: str


@dataclass(frozen=True)
class ThreadNumber:
    number: int


Clause = Text | Subject | Address | ThreadNumber


@dataclass(frozen=True)
class Query:
    """All clauses must hold (AND)."""

    clauses: tuple[Clause, ...]

    @property
    def terms(self) -> list[Term]:
        """The text-search terms, for matching and highlighting."""
        return [c.term for c in self.clauses if isinstance(c, Text | Subject)]


def _searchable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _tokens(query: str) -> list[tuple[str | None, str, bool]]:
    """(field or None, value, quoted) for each token, left to right."""
    out: list[tuple[str | None, str, bool]] = []
    i, n = 0, len(query)
    while i < n:
        if query[i].isspace():
            i += 1
            continue
        field = None
        m = _FIELD.match(query, i)
        if m and m.group(1).lower() in _FIELDS | _RESERVED:
            field = m.group(1).lower()
            i = m.end()
        if i < n and query[i] == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise InvalidQuery(f'unterminated quote at position {i + 1}: close the phrase with "')
            out.append((field, query[i + 1 : end], True))
            i = end + 1
            continue
        j = i
        while j < n and not query[j].isspace() and query[j] != '"':
            j += 1
        out.append((field, query[i:j], False))
        i = j
    return out


def parse(query: str) -> Query:
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"query is too long ({len(query)} characters, at most {MAX_QUERY_CHARS})")
    # PostgreSQL text cannot hold NUL; no meaningful query contains control characters.
    query = "".join(" " if ch < " " else ch for ch in query)
    tokens = _tokens(query)
    last_word = max(
        (k for k, (field, _, quoted) in enumerate(tokens) if field in (None, "subject") and not quoted),
        default=-1,
    )
    clauses: list[Clause] = []
    for k, (field, value, quoted) in enumerate(tokens):
        clause = _clause(field, value.strip(), quoted, prefix=k == last_word)
        if clause is not None:
            clauses.append(clause)
    if not clauses:
        raise InvalidQuery("the query has nothing to search for: type a word, a phrase or #number")
    if len(clauses) > MAX_CLAUSES:
        raise InvalidQuery(f"too many terms ({len(clauses)}, at most {MAX_CLAUSES})")
    return Query(tuple(clauses))


def _clause(field: str | None, value: str, quoted: bool, prefix: bool) -> Clause | None:
    if field in _RESERVED:
        raise InvalidQuery(f"{field}: is not supported yet")
    if field == "thread" or (field is None and not quoted and value.startswith("#")):
        m = _NUMBER.fullmatch(value)
        if m:
            return ThreadNumber(int(m.group(1)))
        if field == "thread":
            raise InvalidQuery("thread: expects a thread number, e.g. thread:#1234")
    if field in ("from", "to"):
        if not value:
            raise InvalidQuery(f"{field}: needs a value, e.g. {field}:anna@example.com")
        return Address(field, value.lower())
    if field == "subject" and not _searchable(value):
        raise InvalidQuery('subject: needs a word or a "phrase", e.g. subject:invoice')
    if not _searchable(value):
        return None  # punctuation only ("-", "&", ""): nothing to match, nothing to complain about
    term = Term(value, phrase=quoted, prefix=prefix and not quoted)
    return Subject(term) if field == "subject" else Text(term)
