"""Whom a reply goes to and how it is threaded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from responer_gateway.replies import NothingToAnswerError, build_queue_reply, reply_subject
from responer_gateway.testing import address, inbound_mail, outbound_mail, thread_detail

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ANNA = address("anna@klient.pl", "Anna")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Zwrot", "Re: Zwrot"),
        ("Re: Zwrot", "Re: Zwrot"),
        ("RE: Zwrot", "RE: Zwrot"),
        ("Odp: Zwrot", "Odp: Zwrot"),
        ("AW: Rücksendung", "AW: Rücksendung"),
        ("Fwd: Zwrot", "Re: Fwd: Zwrot"),
        ("Reklamacja", "Re: Reklamacja"),  # starts with "Re" but is not a reply prefix
        ("", "Re:"),
    ],
)
def test_reply_subject_gets_exactly_one_reply_prefix(subject, expected):
    assert reply_subject(subject) == expected


def build(detail):  # noqa: ANN001, ANN201
    return build_queue_reply(detail, body="Dzień dobry", reply_id="r", tenant_id="t", author_user_id="u")


def test_the_reply_answers_the_last_inbound_message_not_our_own_reply():
    first = inbound_mail(message_id="a@k", subject="Zwrot", sender=ANNA, at=NOW, references=["x@k", "a@k"])
    ours = outbound_mail(message_id="ours@r", subject="Re: Zwrot", to=ANNA.email, text="?", at=NOW)
    detail = thread_detail(number=7, subject="Zwrot", customer=ANNA, mails=[first, ours])
    request = build(detail)
    assert request.in_reply_to == "a@k"
    assert list(request.references) == ["x@k", "a@k"]  # no duplicate of the answered id
    assert list(request.to) == ["anna@klient.pl"]
    assert (request.thread_number, request.subject, request.tenant_id) == (7, "Re: Zwrot", "t")


def test_reply_to_wins_over_from():
    mail = inbound_mail(
        message_id="a@k", subject="Zwrot", sender=ANNA, at=NOW,
        reply_to=[address("zwroty@klient.pl"), address("biuro@klient.pl")],
    )  # fmt: skip
    request = build(thread_detail(number=1, subject="Zwrot", customer=ANNA, mails=[mail]))
    assert list(request.to) == ["zwroty@klient.pl", "biuro@klient.pl"]


def test_a_thread_of_only_our_messages_has_nothing_to_answer():
    ours = outbound_mail(message_id="ours@r", subject="Hello", to=ANNA.email, text="hi", at=NOW)
    with pytest.raises(NothingToAnswerError):
        build(thread_detail(number=1, subject="Hello", customer=ANNA, mails=[ours]))
