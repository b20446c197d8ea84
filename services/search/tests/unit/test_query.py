"""The query language: what each piece of syntax means, and what is refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from responer_search.domain.query import (
    Address,
    And,
    Body,
    DateBound,
    Filename,
    Filter,
    InvalidQuery,
    Not,
    Note,
    Or,
    Subject,
    Term,
    Text,
    ThreadNumber,
    parse,
)

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
    assert parse("kettle - &").clauses == (Text(Term("kettle", prefix=True)),)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "nothing to search"),
        ("  - & ", "nothing to search"),
        ('"never closed', "unterminated quote"),
        ("thread:#abc", "thread number"),
        ("from:", "needs a value"),
        ("subject:", "subject: at position 1 needs a value"),
        ("kettle tag:", "tag: at position 8 needs a value"),
        ("is:maybe", "is: at position 1 takes one of"),
        ("has:dog", "has: at position 1 takes attachment"),
        ("after:yesterday", "after: at position 1 expects a date"),
        ("before:2026-13-01", "before: at position 1 expects a date"),
        ("kettle OR", "OR at position 8 needs a term on both sides"),
        ("OR kettle", "OR at position 1 needs a term"),
        ("(kettle lamp", r"\( at position 1 is never closed"),
        ("kettle)", r"\) at position 7 has no matching \("),
        ("((((((((((a))))))))))", "nested"),
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


def test_negation_applies_to_words_phrases_fields_and_groups():
    assert parse('kettle -broken -"never arrived" -from:spam -(tag:x OR tag:y)').root == And(
        (
            Text(Term("kettle")),
            Not(Text(Term("broken", prefix=True))),
            Not(Text(Term("never arrived", phrase=True))),
            Not(Address("from", "spam")),
            Not(Or((Filter("tag", "x"), Filter("tag", "y")))),
        )
    )


def test_or_binds_looser_than_and():
    assert parse("kettle lamp OR vacuum").root == Or(
        (And((Text(Term("kettle")), Text(Term("lamp")))), Text(Term("vacuum", prefix=True)))
    )
    assert parse("kettle or lamp").root == And(
        (Text(Term("kettle")), Text(Term("or")), Text(Term("lamp", prefix=True)))
    )  # only upper-case OR is the operator


def test_a_hyphen_inside_a_word_is_not_negation():
    assert parse("e-mail").root == Text(Term("e-mail", prefix=True))


@pytest.mark.parametrize(
    ("query", "node"),
    [
        ("cc:ola@x.test", Address("cc", "ola@x.test")),
        ("to:@WP.pl", Address("to", "@wp.pl")),
        ("body:zwrot", Body(Term("zwrot", prefix=True))),
        ('body:"zwrot towaru"', Body(Term("zwrot towaru", phrase=True))),
        ("filename:Faktura.PDF", Filename("faktura.pdf")),
        ("note:oddzwonić", Note(Term("oddzwonić", prefix=True))),
        ("tag:VIP", Filter("tag", "vip")),
        ('tag:"pilne sprawy"', Filter("tag", "pilne sprawy")),
        ("folder:Sales", Filter("folder", "sales")),
        ("mailbox:support@acme.test", Filter("mailbox", "support@acme.test")),
        ("group:billing", Filter("group", "billing")),
        ("assignee:me", Filter("assignee", "me")),
        ("assignee:Anna", Filter("assignee", "anna")),
        ("is:open", Filter("is", "open")),
        ("is:pending", Filter("is", "pending")),
        ("is:closed", Filter("is", "closed")),
        ("is:unassigned", Filter("is", "unassigned")),
        ("is:unread", Filter("is", "unread")),
        ("is:READ", Filter("is", "read")),
        ("status:closed", Filter("is", "closed")),
        ("has:attachment", Filter("has", "attachment")),
        ("before:2026-11-24", DateBound("before", datetime(2026, 11, 24, tzinfo=UTC))),
        ("after:2026-11", DateBound("after", datetime(2026, 11, 1, tzinfo=UTC))),
    ],
)
def test_every_field(query, node):
    assert parse(query).root == node


def test_thread_level_and_message_level_conditions_are_told_apart():
    assert parse("tag:vip is:open").has_message_conditions is False
    assert parse("tag:vip kettle").has_message_conditions is True
    assert parse("note:callback #12").has_message_conditions is False


def test_terms_for_highlighting_skip_negated_words():
    assert [t.text for t in parse("kettle -broken subject:lamp").terms] == ["kettle", "lamp"]


def test_an_or_side_of_punctuation_only_is_dropped_not_an_error():
    assert parse("' OR 1=1 --").root == Text(Term("1=1", prefix=True))
