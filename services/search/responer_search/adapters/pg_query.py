"""Compiles a parsed Query into PostgreSQL conditions. User text only ever travels as parameters.

Words go through the same text search configuration as the documents (`search.responer_fold`:
unaccent then simple), so `zolw` and `żółw` meet in the middle. A prefix word becomes a quoted
to_tsquery operand with `:*`; inside the quotes every tsquery operator is plain text, so `' OR 1=1`
or `&|!(` can only ever be words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from responer_search.domain.query import Address, Query, Subject, Term, Text, ThreadNumber

_CFG = sql.SQL("'search.responer_fold'::regconfig")


def _like_pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _prefix_operand(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "':*"


@dataclass
class Compiled:
    thread_conditions: list[sql.Composable] = field(default_factory=list)
    message_conditions: list[sql.Composable] = field(default_factory=list)
    tsquery: sql.Composable | None = None  # all text terms together: for matching and highlighting
    params: dict[str, object] = field(default_factory=dict)

    def param(self, value: object) -> sql.Placeholder:
        name = f"q{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)


def _tsquery(c: Compiled, term: Term) -> sql.Composable:
    if term.phrase:
        return sql.SQL("phraseto_tsquery({}, {})").format(_CFG, c.param(term.text))
    if term.prefix:
        return sql.SQL("to_tsquery({}, {})").format(_CFG, c.param(_prefix_operand(term.text)))
    return sql.SQL("plainto_tsquery({}, {})").format(_CFG, c.param(term.text))


def compile_query(query: Query) -> Compiled:
    c = Compiled()
    text_queries: list[sql.Composable] = []
    for clause in query.clauses:
        if isinstance(clause, ThreadNumber):
            c.thread_conditions.append(sql.SQL("t.number = {}").format(c.param(clause.number)))
        elif isinstance(clause, Address):
            column = sql.Identifier("m", "from_folded" if clause.field == "from" else "to_folded")
            pattern = c.param(_like_pattern(clause.value))
            c.message_conditions.append(
                sql.SQL("{} LIKE search.fold({}) ESCAPE '\\'").format(column, pattern)
            )
        elif isinstance(clause, Text):
            text_queries.append(_tsquery(c, clause.term))
        elif isinstance(clause, Subject):
            tsq = _tsquery(c, clause.term)
            text_queries.append(tsq)
            # Only subject lexemes (weight A); the plain @@ above keeps the GIN index in play.
            c.message_conditions.append(sql.SQL("ts_filter(m.tsv, '{{a}}') @@ {}").format(tsq))
    if text_queries:
        c.tsquery = sql.SQL("(") + sql.SQL(" && ").join(text_queries) + sql.SQL(")")
        c.message_conditions.insert(0, sql.SQL("m.tsv @@ {}").format(c.tsquery))
    return c
