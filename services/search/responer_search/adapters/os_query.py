"""Compiles a parsed Query tree into an OpenSearch bool query over message (or thread) documents.

Message documents carry their thread's fields (folder, tags, status, assignee, notes, ...), so one
query answers mixed trees the way the PostgreSQL compiler does: a thread matches when one of its
messages satisfies the whole tree. Text goes through the index's folding analyser; substring fields
(addresses, file names) are folded here and matched with wildcards on normalised keywords, with the
wildcard characters of user input escaped.
"""

from __future__ import annotations

from typing import Any

from responer_search.domain.fold import fold
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

Q = dict[str, Any]
_ADDRESS_FIELD = {"from": "from_kw", "to": "to_kw", "cc": "cc_kw"}


def _wildcard_value(value: str) -> str:
    escaped = fold(value).replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    return f"*{escaped}*"


def _text(field: str, term: Term) -> Q:
    if term.phrase:
        return {"match_phrase": {field: {"query": term.text}}}
    if term.prefix and len(term.text.split()) == 1 and term.text.isalnum():
        return {"match_phrase_prefix": {field: {"query": term.text}}}
    return {"match": {field: {"query": term.text, "operator": "and"}}}


class _Compiler:
    def __init__(self, user_id: str, resolve_users, resolve_groups) -> None:  # noqa: ANN001
        self.user_id = user_id
        self.resolve_users = resolve_users
        self.resolve_groups = resolve_groups
        self.highlight_terms: list[Q] = []

    def node(self, n: Node, negated: bool = False) -> Q:
        if isinstance(n, And):
            return {"bool": {"filter": [self.node(x, negated) for x in n.nodes]}}
        if isinstance(n, Or):
            return {"bool": {"should": [self.node(x, negated) for x in n.nodes], "minimum_should_match": 1}}
        if isinstance(n, Not):
            return {"bool": {"must_not": [self.node(n.node, not negated)]}}
        if isinstance(n, Text | Subject | Body):
            field = {Text: "all", Subject: "subject", Body: "text"}[type(n)]
            q = _text(field, n.term)
            if not negated:
                # Scoring: a match in the subject weighs more, like PostgreSQL's weight A.
                subject = _text("subject", n.term)
                self.highlight_terms += [
                    _text("text", n.term),
                    {"constant_score": {"filter": subject, "boost": 2.0}},
                    q,
                ]
            return q
        if isinstance(n, Note):
            return _text("notes", n.term)
        if isinstance(n, Address):
            return {"wildcard": {_ADDRESS_FIELD[n.field]: {"value": _wildcard_value(n.value)}}}
        if isinstance(n, Filename):
            return {"wildcard": {"files_kw": {"value": _wildcard_value(n.value)}}}
        if isinstance(n, ThreadNumber):
            return {"term": {"number": n.number}}
        if isinstance(n, DateBound):
            op = "gte" if n.field == "after" else "lt"
            return {"range": {"date": {op: n.at.isoformat()}}}
        if isinstance(n, Filter):
            return self.filter(n)
        raise AssertionError(f"unknown node {n!r}")  # pragma: no cover

    def filter(self, n: Filter) -> Q:
        v = n.value
        if n.field == "tag":
            return {"term": {"tags_kw": fold(v)}}
        if n.field == "folder":
            return {"term": {"folder_kw": fold(v)}}
        if n.field == "group":
            by_id: Q = {"term": {"group_kw": fold(v)}}
            named = self.resolve_groups(v)
            if not named:
                return by_id
            return {
                "bool": {
                    "should": [by_id, {"terms": {"assignee_group_id": named}}],
                    "minimum_should_match": 1,
                }
            }
        if n.field == "mailbox":
            return {
                "bool": {
                    "should": [
                        {"term": {"mailbox_id": v}},
                        {"wildcard": {"mailbox_kw": {"value": _wildcard_value(v)}}},
                        # another mailbox of the tenant the same mail was seen in too
                        {"term": {"other_mailbox_ids": v}},
                        {"wildcard": {"other_mailbox_kw": {"value": _wildcard_value(v)}}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        if n.field == "has":
            return {"term": {"has_attachment": True}}
        if n.field == "is":
            if v in ("unread", "read"):
                if not self.user_id:
                    raise InvalidQuery(f"is:{v} needs a signed-in user")
                unread: Q = {
                    "bool": {
                        "must_not": [{"term": {"read_by": self.user_id}}],
                        "should": [
                            {"exists": {"field": "last_inbound_at"}},
                            {"term": {"unread_marks": self.user_id}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
                return unread if v == "unread" else {"bool": {"must_not": [unread]}}
            if v == "unassigned":
                return {"bool": {"must_not": [{"exists": {"field": "assignee_user_id"}}]}}
            if v == "assigned":
                return {"exists": {"field": "assignee_user_id"}}
            return {"term": {"status": v}}
        if n.field == "assignee":
            if v == "me":
                if not self.user_id:
                    raise InvalidQuery("assignee:me needs a signed-in user")
                return {"term": {"assignee_user_id": self.user_id}}
            ids = [v, *self.resolve_users(v)]
            return {"terms": {"assignee_user_id": ids}}
        raise AssertionError(f"unknown filter {n.field}")  # pragma: no cover


def compile_query(
    query: Query, tenant_id: str, user_id: str = "", resolve_users=lambda _v: [], resolve_groups=lambda _v: []
) -> tuple[Q, Q | None]:  # noqa: ANN001
    """(the tenant-confined query, a highlight query of the positive text terms or None)."""
    compiler = _Compiler(user_id, resolve_users, resolve_groups)
    tree = compiler.node(query.root)
    q = {"bool": {"filter": [{"term": {"tenant_id": tenant_id}}, {"term": {"listed": True}}, tree]}}
    scoring = [t for t in compiler.highlight_terms]
    if scoring:
        q["bool"]["should"] = scoring  # scores only: filter decides what matches
    highlight = {"bool": {"should": compiler.highlight_terms}} if compiler.highlight_terms else None
    return q, highlight
