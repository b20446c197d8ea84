"""The search query language, parsed once into a small tree that each backend compiles.

    query   := or ( "OR" or )*           ... one or more alternatives
    or      := unary+                    ... all must hold (AND)
    unary   := "-" atom | atom           ... "-" negates
    atom    := "(" query ")" | field ":" value | value
    value   := word | "quoted phrase"

Fields: from: to: cc: subject: body: filename: note: (text), thread:#n or #n, tag: folder: mailbox:
group: assignee:me|name is:open|pending|closed|unassigned|assigned|unread|read has:attachment before: after:
(YYYY-MM-DD or YYYY-MM). The last unquoted free word (or subject:/body: word) matches as a prefix, so
results follow the user while they type. Anything else with a colon (`re:`, `10:30`, `http://...`) is
ordinary text. A mistake raises InvalidQuery naming the 1-based character position.

Message-level conditions (words, addresses, dates, attachments, mailbox) are evaluated per message; a
thread matches when one of its messages satisfies the whole tree, where thread-level conditions
(tag, folder, status, assignee, group, note, thread number) read the message's thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 32
MAX_DEPTH = 8

TEXT_FIELDS = {"subject", "body", "filename", "note"}
ADDRESS_FIELDS = {"from", "to", "cc"}
FILTER_FIELDS = {"tag", "folder", "mailbox", "group", "assignee", "is", "status", "has"}
DATE_FIELDS = {"before", "after"}
_FIELDS = TEXT_FIELDS | ADDRESS_FIELDS | FILTER_FIELDS | DATE_FIELDS | {"thread"}
# Thread-level: answered by the thread row, not by one message.
THREAD_FIELDS = {"tag", "folder", "group", "assignee", "is", "note"}
IS_VALUES = {"open", "pending", "closed", "unassigned", "assigned", "unread", "read"}
# is:unread / is:read are per user: they need the asking user (like assignee:me).
PER_USER_IS = {"unread", "read"}
HAS_VALUES = {"attachment"}

_FIELD = re.compile(r"([A-Za-z]+):")
_NUMBER = re.compile(r"#?(\d{1,18})")
_DATE = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")


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
class Body:
    term: Term


@dataclass(frozen=True)
class Filename:
    """A part of an attachment's file name (case and diacritics ignored)."""

    value: str


@dataclass(frozen=True)
class Note:
    """A term in one of the thread's internal notes."""

    term: Term


@dataclass(frozen=True)
class Address:
    """`from:`, `to:` (includes cc) or `cc:`: a part of an address or display name, diacritics folded."""

    field: str
    value: str


@dataclass(frozen=True)
class ThreadNumber:
    number: int


@dataclass(frozen=True)
class Filter:
    """An exact, case-insensitive property: tag, folder, mailbox, group, assignee, is, has."""

    field: str
    value: str


@dataclass(frozen=True)
class DateBound:
    """`after:` the message date is on or after `at`; `before:` strictly before `at` (UTC midnight)."""

    field: str
    at: datetime


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


Clause = Text | Subject | Body | Filename | Note | Address | ThreadNumber | Filter | DateBound
Node = Clause | Not | And | Or


@dataclass(frozen=True)
class Query:
    """The whole query: `root` is the tree; `clauses` the top-level AND list (kept for simple callers)."""

    root: Node

    @property
    def clauses(self) -> tuple[Node, ...]:
        return self.root.nodes if isinstance(self.root, And) else (self.root,)

    @property
    def terms(self) -> list[Term]:
        """The positive text-search terms, for ranking and highlighting."""
        return [n.term for n in walk(self.root, positive_only=True) if isinstance(n, Text | Subject | Body)]

    @property
    def has_message_conditions(self) -> bool:
        return any(is_message_level(n) for n in walk(self.root))


def walk(node: Node, positive_only: bool = False):  # noqa: ANN201 - a generator of Nodes
    if isinstance(node, And | Or):
        for child in node.nodes:
            yield from walk(child, positive_only)
    elif isinstance(node, Not):
        if not positive_only:
            yield from walk(node.node, positive_only)
    else:
        yield node


def is_message_level(node: Node) -> bool:
    if isinstance(node, Filter):
        return node.field == "mailbox" or node.field == "has"
    return isinstance(node, Text | Subject | Body | Filename | Address | DateBound)


def _searchable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


@dataclass(frozen=True)
class _Token:
    kind: str  # word | phrase | lparen | rparen | or | not
    pos: int  # 1-based position of the token's first character
    field: str | None = None
    value: str = ""


def _tokens(query: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        if ch == "(":
            out.append(_Token("lparen", i + 1))
            i += 1
            continue
        if ch == ")":
            out.append(_Token("rparen", i + 1))
            i += 1
            continue
        if ch == "-" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] not in "-)":
            out.append(_Token("not", i + 1))
            i += 1
            continue
        field = None
        m = _FIELD.match(query, i)
        if m and m.group(1).lower() in _FIELDS:
            field = m.group(1).lower()
            i = m.end()
        if i < n and query[i] == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise InvalidQuery(f'unterminated quote at position {i + 1}: close the phrase with "')
            out.append(_Token("phrase", start + 1, field, query[i + 1 : end]))
            i = end + 1
            continue
        j = i
        while j < n and not query[j].isspace() and query[j] not in '"()':
            j += 1
        word = query[i:j]
        if field is None and word == "OR":
            out.append(_Token("or", start + 1))
        else:
            out.append(_Token("word", start + 1, field, word))
        i = j
    return out


class _Parser:
    def __init__(self, tokens: list[_Token], me_prefix: int) -> None:
        self.tokens = tokens
        self.k = 0
        self.prefix_token = me_prefix
        self.count = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.k] if self.k < len(self.tokens) else None

    def parse_or(self, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            raise InvalidQuery(f"too many nested parentheses (at most {MAX_DEPTH})")
        alternatives: list[Node] = []
        or_pos = 0
        while True:
            before = self.k
            node = self.parse_and(depth)
            tok = self.peek()
            # A side made only of punctuation (`' OR 1=1`) is dropped like any punctuation word.
            if node is None and self.k == before:
                if or_pos:
                    raise InvalidQuery(f"OR at position {or_pos} needs a term on both sides")
                if tok is not None and tok.kind == "or":
                    raise InvalidQuery(f"OR at position {tok.pos} needs a term on both sides")
            if node is not None:
                alternatives.append(node)
            if tok is None or tok.kind != "or":
                break
            or_pos = tok.pos
            self.k += 1
        if not alternatives:
            return None
        return alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives))

    def parse_and(self, depth: int) -> Node | None:
        nodes: list[Node] = []
        while True:
            tok = self.peek()
            if tok is None or tok.kind in ("or", "rparen"):
                break
            node = self.parse_unary(depth)
            if node is not None:
                nodes.append(node)
        if not nodes:
            return None
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def parse_unary(self, depth: int) -> Node | None:
        tok = self.peek()
        assert tok is not None
        if tok.kind == "not":
            self.k += 1
            nxt = self.peek()
            if nxt is None or nxt.kind in ("or", "rparen", "not"):
                raise InvalidQuery(f"- at position {tok.pos} must be followed by a word, a field or (")
            node = self.parse_atom(depth)
            return Not(node) if node is not None else None
        return self.parse_atom(depth)

    def parse_atom(self, depth: int) -> Node | None:
        tok = self.peek()
        assert tok is not None
        self.k += 1
        if tok.kind == "lparen":
            inner = self.parse_or(depth + 1)
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise InvalidQuery(f"( at position {tok.pos} is never closed: add )")
            self.k += 1
            return inner
        if tok.kind == "rparen":  # pragma: no cover - parse_and stops before it
            raise InvalidQuery(f") at position {tok.pos} has no matching (")
        node = _clause(tok, prefix=self.k - 1 == self.prefix_token)
        if node is not None:
            self.count += 1
            if self.count > MAX_CLAUSES:
                raise InvalidQuery(f"too many terms (more than {MAX_CLAUSES})")
        return node


def parse(query: str) -> Query:
    """The tree of a query typed by a user; InvalidQuery (naming the position) when it makes no sense."""
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQuery(f"query is too long ({len(query)} characters, at most {MAX_QUERY_CHARS})")
    # PostgreSQL text cannot hold NUL; no meaningful query contains control characters.
    query = "".join(" " if ch < " " else ch for ch in query)
    tokens = _tokens(query)
    last_word = max(
        (
            k
            for k, t in enumerate(tokens)
            if t.kind == "word" and t.field in (None, "subject", "body", "note") and _searchable(t.value)
        ),
        default=-1,
    )
    parser = _Parser(tokens, last_word)
    root = parser.parse_or(0)
    extra = parser.peek()
    if extra is not None:
        raise InvalidQuery(f") at position {extra.pos} has no matching (")
    if root is None:
        raise InvalidQuery("the query has nothing to search for: type a word, a phrase or #number")
    return Query(root)


def _date(tok: _Token, value: str) -> datetime:
    m = _DATE.fullmatch(value)
    try:
        if m is None:
            raise ValueError(value)
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
    except ValueError:
        raise InvalidQuery(
            f"{tok.field}: at position {tok.pos} expects a date like 2026-11-24 or 2026-11"
        ) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _clause(tok: _Token, prefix: bool) -> Clause | None:
    field, quoted = tok.field, tok.kind == "phrase"
    value = tok.value.strip()
    if field == "thread" or (field is None and not quoted and value.startswith("#")):
        m = _NUMBER.fullmatch(value)
        if m:
            return ThreadNumber(int(m.group(1)))
        if field == "thread":
            raise InvalidQuery(f"thread: at position {tok.pos} expects a thread number, e.g. thread:#1234")
    if field is not None and not value:
        raise InvalidQuery(f"{field}: at position {tok.pos} needs a value, e.g. {_EXAMPLES[field]}")
    if field in ADDRESS_FIELDS:
        return Address(field, value.lower())
    if field in DATE_FIELDS:
        return DateBound(field, _date(tok, value))
    if field == "filename":
        return Filename(value.lower())
    if field in FILTER_FIELDS:
        value = value.lower()
        if field == "status":
            field = "is"
        if field == "is" and value not in IS_VALUES:
            raise InvalidQuery(
                f"is: at position {tok.pos} takes one of {', '.join(sorted(IS_VALUES))} (got {value!r})"
            )
        if field == "has" and value not in HAS_VALUES:
            raise InvalidQuery(f"has: at position {tok.pos} takes attachment (got {value!r})")
        return Filter(field, value)
    if not _searchable(value):
        if field is not None:
            raise InvalidQuery(f'{field}: at position {tok.pos} needs a word or a "phrase"')
        return None  # punctuation only ("-", "&", ""): nothing to match, nothing to complain about
    term = Term(value, phrase=quoted, prefix=prefix and not quoted)
    if field == "subject":
        return Subject(term)
    if field == "body":
        return Body(term)
    if field == "note":
        return Note(term)
    return Text(term)


_EXAMPLES = {
    "from": "from:anna@example.com",
    "to": "to:support@",
    "cc": "cc:anna",
    "subject": "subject:invoice",
    "body": "body:refund",
    "filename": "filename:invoice.pdf",
    "note": "note:callback",
    "tag": "tag:vip",
    "folder": "folder:Sales",
    "mailbox": "mailbox:support@acme.test",
    "group": "group:billing",
    "assignee": "assignee:me",
    "is": "is:open",
    "status": "status:open",
    "has": "has:attachment",
    "before": "before:2026-11-24",
    "after": "after:2026-11-01",
    "thread": "thread:#1234",
}
