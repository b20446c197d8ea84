"""Compiles a parsed Query tree into one PostgreSQL condition. User text only ever travels as parameters.

The condition reads a message row `m` joined to its thread row `t` (see domain/query.py for which
fields are message- or thread-level); a tree without message-level conditions is evaluated on `t`
alone. Words go through the same text search configuration as the documents (`search.responer_fold`:
unaccent then simple), so `zolw` and `żółw` meet in the middle. A prefix word becomes a quoted
to_tsquery operand with `:*`; inside the quotes every tsquery operator is plain text, so `' OR 1=1`
or `&|!(` can only ever be words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from responer_search.adapters.pg_schema import UNREAD
from responer_search.domain.query import (
    Address,
    And,
    Body,
    DateBound,
    Filename,
    Filter,
    InvalidQuery,
    Node,
    Not,
    Note,
    Or,
    Query,
    Subject,
    Term,
    Text,
    ThreadNumber,
)

_CFG = sql.SQL("'search.responer_fold'::regconfig")
_ADDRESS_COLUMN = {"from": "from_folded", "to": "to_folded", "cc": "cc_folded"}


def like_pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _prefix_operand(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "':*"


@dataclass
class Compiled:
    condition: sql.Composable = field(default_factory=lambda: sql.SQL("true"))
    message_level: bool = False
    thread_level: bool = False  # reads the thread row `t` (tag, folder, status, assignee, note, number)
    reads: bool = False  # is:unread / is:read: reads the asking user's reads row
    tsquery: sql.Composable | None = None  # positive text terms together: for ranking and highlighting
    params: dict[str, object] = field(default_factory=dict)
    completions: dict[str, list[str]] = field(default_factory=dict)  # prefix word -> lexemes

    def param(self, value: object) -> sql.Placeholder:
        name = f"q{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)


def prefix_word(term: Term) -> str | None:
    """The word a prefix term completes, when it is one token ("o'brie" would not split like the
    document did, so it is matched as plain words)."""
    if term.phrase or not term.prefix:
        return None
    words = term.text.split()
    return words[0] if len(words) == 1 and all(ch.isalnum() for ch in words[0]) else None


def tsquery_of_lexemes(lexemes: list[str]) -> str:
    """A tsquery text OR-ing lexemes exactly as given (already folded: cast, not normalised)."""
    return " | ".join("'" + x.replace("\\", "\\\\").replace("'", "''") + "'" for x in lexemes)


def _tsquery(c: Compiled, term: Term) -> sql.Composable:
    if term.phrase:
        return sql.SQL("phraseto_tsquery({}, {})").format(_CFG, c.param(term.text))
    word = prefix_word(term)
    if word is not None:
        completions = c.completions.get(word)
        if completions:
            # The words the prefix completes to, looked up in the lexicon: exact GIN entries are
            # intersected in the index, a prefix (partial match) collects all its hits first.
            return sql.SQL("{}::tsquery").format(c.param(tsquery_of_lexemes(completions)))
        return sql.SQL("to_tsquery({}, {})").format(_CFG, c.param(_prefix_operand(term.text)))
    return sql.SQL("plainto_tsquery({}, {})").format(_CFG, c.param(term.text))


class _Compiler:
    def __init__(self, c: Compiled, user_id: str, reads_joined: bool = False) -> None:
        self.c = c
        self.user_id = user_id
        self.reads_joined = reads_joined
        self.positive_text: list[sql.Composable] = []

    def node(self, n: Node, negated: bool = False) -> sql.Composable:
        c = self.c
        if isinstance(n, And):
            return sql.SQL("(") + sql.SQL(" AND ").join(self.node(x, negated) for x in n.nodes) + sql.SQL(")")
        if isinstance(n, Or):
            return sql.SQL("(") + sql.SQL(" OR ").join(self.node(x, negated) for x in n.nodes) + sql.SQL(")")
        if isinstance(n, Not):
            if isinstance(n.node, Text | Body | Subject):
                # The messages that do say it, once, from the GIN index (a hashed subplan), instead
                # of reading every candidate's tsvector: the negated word's hits are few pages.
                # Bounded by the same date floor as the outer query when it reads a window.
                return sql.SQL(
                    "NOT (m.message_id IN (SELECT n.message_id FROM search.messages n "
                    "WHERE n.tenant_id = %(tenant)s AND n.date >= %(floor)s::timestamptz "
                    "AND n.day >= %(floor_day)s::integer AND {}))"
                ).format(self._on("n", n.node))
            return sql.SQL("NOT coalesce({}, false)").format(self.node(n.node, not negated))
        if isinstance(n, Text | Subject | Body):
            tsq = _tsquery(c, n.term)
            if not negated:
                self.positive_text.append(tsq)
            return self._text_condition("m", n, tsq)
        if isinstance(n, Note | ThreadNumber) or (
            isinstance(n, Filter) and n.field not in ("mailbox", "has")
        ):
            c.thread_level = True
        if isinstance(n, Note):
            return sql.SQL(
                "EXISTS (SELECT 1 FROM search.timeline n WHERE n.tenant_id = t.tenant_id "
                "AND n.thread_id = t.thread_id AND n.kind = 'note' AND n.tsv @@ {})"
            ).format(_tsquery(c, n.term))
        if isinstance(n, Address):
            column = sql.Identifier("m", _ADDRESS_COLUMN[n.field])
            return sql.SQL("{} LIKE search.fold({}) ESCAPE '\\'").format(
                column, c.param(like_pattern(n.value))
            )
        if isinstance(n, Filename):
            return sql.SQL("m.files_folded LIKE search.fold({}) ESCAPE '\\'").format(
                c.param(like_pattern(n.value))
            )
        if isinstance(n, ThreadNumber):
            return sql.SQL("t.number = {}").format(c.param(n.number))
        if isinstance(n, DateBound):
            op = sql.SQL(">=") if n.field == "after" else sql.SQL("<")
            return sql.SQL("m.date {} {}").format(op, c.param(n.at))
        if isinstance(n, Filter):
            return self.filter(n)
        raise AssertionError(f"unknown node {n!r}")  # pragma: no cover

    @staticmethod
    def _text_condition(alias: str, n: Text | Subject | Body, tsq: sql.Composable) -> sql.Composable:
        a = sql.Identifier(alias)
        match = sql.SQL("{}.tsv @@ {}").format(a, tsq)
        if isinstance(n, Subject):
            # The short subject re-parsed beats reading the whole (out-of-line) tsvector; the plain @@
            # keeps the GIN index in play.
            return sql.SQL("({} AND to_tsvector({}, {}.subject) @@ {})").format(match, _CFG, a, tsq)
        if isinstance(n, Body):
            return sql.SQL("({} AND ts_filter({}.tsv, '{{c}}') @@ {})").format(match, a, tsq)
        return match

    def _on(self, alias: str, n: Text | Subject | Body) -> sql.Composable:
        return self._text_condition(alias, n, _tsquery(self.c, n.term))

    def unread(self) -> sql.Composable:
        self.c.reads = True
        if self.reads_joined:
            return UNREAD
        # One primary-key probe of search.reads per thread; no row: unread when a customer wrote.
        return sql.SQL(
            "coalesce((SELECT {} FROM search.reads r WHERE r.tenant_id = t.tenant_id "
            "AND r.thread_id = t.thread_id AND r.user_id = {}), t.last_inbound_at IS NOT NULL)"
        ).format(UNREAD, self.c.param(self.user_id))

    def filter(self, n: Filter) -> sql.Composable:
        c, v = self.c, n.value
        if n.field == "tag":
            return sql.SQL("t.tags_folded @> ARRAY[search.fold({})]").format(c.param(v))
        if n.field == "folder":
            return sql.SQL("lower(coalesce(t.folder, 'Inbox')) = lower({})").format(c.param(v))
        if n.field == "group":
            return sql.SQL(
                "(lower(t.assignee_group_id) = lower({v}) OR t.assignee_group_id IN (SELECT g.group_id "
                "FROM search.groups g WHERE g.tenant_id = t.tenant_id AND g.name_folded = search.fold({v})))"
            ).format(v=c.param(v))
        if n.field == "mailbox":
            # The mailbox it arrived in, or another it was seen in too (rare: most arrays are empty).
            return sql.SQL(
                "(m.mailbox_id = {v} OR lower(m.mailbox_address) LIKE lower({p}) ESCAPE '\\' "
                "OR (m.other_mailbox_ids <> '{{}}' AND ({v} = ANY(m.other_mailbox_ids) OR EXISTS ("
                "SELECT 1 FROM unnest(m.other_mailbox_addresses) a WHERE lower(a) LIKE lower({p}) ESCAPE '\\'))))"
            ).format(v=c.param(v), p=c.param(like_pattern(v)))
        if n.field == "has":
            return sql.SQL("m.attachment_names <> '{}'")
        if n.field == "is":
            if v in ("unread", "read"):
                if not self.user_id:
                    raise InvalidQuery(f"is:{v} needs a signed-in user")
                return self.unread() if v == "unread" else sql.SQL("NOT ") + self.unread()
            if v == "unassigned":
                return sql.SQL("t.assignee_user_id IS NULL")
            if v == "assigned":
                return sql.SQL("t.assignee_user_id IS NOT NULL")
            return sql.SQL("t.status = {}").format(c.param(v))
        if n.field == "assignee":
            if v == "me":
                if not self.user_id:
                    raise InvalidQuery("assignee:me needs a signed-in user")
                return sql.SQL("t.assignee_user_id = {}").format(c.param(self.user_id))
            return sql.SQL(
                "(t.assignee_user_id = {} OR t.assignee_user_id IN (SELECT u.user_id FROM search.users u "
                "WHERE u.tenant_id = t.tenant_id AND (u.name_folded LIKE search.fold({p}) ESCAPE '\\' "
                "OR u.email_folded LIKE search.fold({p}) ESCAPE '\\')))"
            ).format(c.param(v), p=c.param(like_pattern(v)))
        raise AssertionError(f"unknown filter {n.field}")  # pragma: no cover


def compile_query(
    query: Query,
    user_id: str = "",
    completions: dict[str, list[str]] | None = None,
    reads_joined: bool = False,
) -> Compiled:
    """With `reads_joined` the caller LEFT JOINs the user's reads row as `r` (pg_schema.reads_join)
    and is:unread/is:read read it; otherwise they look it up by its key for each thread."""
    c = Compiled(
        message_level=query.has_message_conditions,
        params={"floor": "-infinity", "floor_day": -(2**31)},
        completions=completions or {},
    )
    compiler = _Compiler(c, user_id, reads_joined)
    c.condition = compiler.node(query.root)
    if compiler.positive_text:
        c.tsquery = sql.SQL("(") + sql.SQL(" || ").join(compiler.positive_text) + sql.SQL(")")
    return c
