"""The query language: what each piece of syntax means, and what is refused with a reason."""

from __future__ import annotations

import pytest
from responer_search.domain.query import Address, InvalidQuery, Subject, Term, Text, ThreadNumber, parse

pytestmark = pytest.mark.unit


def test_free_words_are_all_required_and_the_last_one_is_a_prefix():
    assert parse("red  kettle").clauses == (Text(Term("red")), Text(Term("kettle", prefix=True)))


def test_quoted_phrases_are_never_prefixes():
    assert parse('"parcel never arrived"').clauses == (Text(Term("parcel never arrived", phrase=True)),)
    assert parse('kettle "red one"').clauses == (
        Text(Term("kettle", prefix=True)),
        Text(Term("red one", phrase=True)),
    )


@pytest.mark.parametrize("query", ["#1234", "thread:#1234", "thread:1234", "THREAD:#1234"])
def test_thread_numbers(query):
    assert parse(query).clauses == (ThreadNumber(1234),)


def test_fields_take_a_word_or_a_phrase():
    assert parse('from:Anna@X.test subject:"big order" to:support').clauses == (
        Address("from", "anna@x.test"),
        Subject(Term("big order", phrase=True)),
        Address("to", "support"),
    )
    assert parse("subject:invo").clauses == (Subject(Term("invo", prefix=True)),)


def test_colons_that_are_not_fields_are_text():
    assert [c.term.text for c in parse("re: 10:30 http://x.test").clauses] == [
        "re:",
        "10:30",
        "http://x.test",
    ]


def test_a_hash_without_digits_is_text():
    assert parse("#urgent").clauses == (Text(Term("#urgent", prefix=True)),)


def test_punctuation_only_words_are_dropped():
    assert parse("kettle - &").clauses == (Text(Term("kettle")),)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "nothing to search"),
        ("  - & ", "nothing to search"),
        ('"never closed', "unterminated quote"),
        ("thread:#abc", "thread number"),
        ("from:", "needs a value"),
        ("subject:", "subject: needs"),
        ("tag:vip", "not supported yet"),
        ("x" * 1001, "too long"),
        (" ".join(["w"] * 40), "too many terms"),
    ],
)
def test_malformed_queries_say_why(query, reason):
    with pytest.raises(InvalidQuery, match=reason):
        parse(query)


def test_control_characters_never_reach_the_backend():
    [clause] = parse("a\x00").clauses
    assert "\x00" not in clause.term.text
