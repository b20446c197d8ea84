"""The outgoing message: threading headers, thread tag, utf-8 body, and no way to inject headers."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest
from responer_outbox.domain.message import (
    InvalidReply,
    OutgoingMail,
    build_message,
    clean_message_id,
    message_bytes,
    parse_address,
    tag_subject,
    thread_references,
)

pytestmark = pytest.mark.unit

WHEN = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


def _mail(**overrides: object) -> OutgoingMail:
    fields: dict[str, object] = {
        "message_id": "0b0e-reply@responer.test",
        "from_address": "Obsługa Sklepu <pomoc@sklep.example.pl>",
        "to": ["Jan Żółtowski <jan@example.com>"],
        "cc": ["biuro@example.com"],
        "subject": "Re: Reklamacja [#104233]",
        "body_text": "Dzień dobry,\nżółw dotarł cały.\n",
        "in_reply_to": "c2@mail.example.com",
        "references": ["c1@mail.example.com", "c2@mail.example.com"],
    }
    fields.update(overrides)
    return OutgoingMail(**fields)  # type: ignore[arg-type]


def _parsed(mail: OutgoingMail) -> email.message.EmailMessage:
    return email.message_from_bytes(message_bytes(build_message(mail, WHEN)), policy=policy.default)


def test_message_carries_threading_headers_and_our_message_id():
    msg = _parsed(_mail())

    assert msg["Message-ID"] == "<0b0e-reply@responer.test>"
    assert msg["In-Reply-To"] == "<c2@mail.example.com>"
    assert msg["References"] == "<c1@mail.example.com> <c2@mail.example.com>"
    assert msg["Date"].datetime == WHEN


def test_human_reply_is_not_marked_auto_submitted():
    assert _parsed(_mail())["Auto-Submitted"] is None


def test_polish_text_survives_in_body_subject_and_names():
    msg = _parsed(_mail(subject="Re: Zażółć gęślą jaźń [#7]"))

    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n") == "Dzień dobry,\nżółw dotarł cały.\n"
    assert msg["Subject"] == "Re: Zażółć gęślą jaźń [#7]"
    assert msg["From"].addresses[0].display_name == "Obsługa Sklepu"
    assert msg["To"].addresses[0].display_name == "Jan Żółtowski"


def test_wire_format_is_seven_bit_with_crlf_line_ends():
    data = message_bytes(build_message(_mail(), WHEN))

    assert all(byte < 128 for byte in data)
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_envelope_uses_bare_addresses_each_once():
    mail = _mail(cc=["biuro@example.com", "Jan <jan@example.com>"])

    assert mail.envelope_sender == "pomoc@sklep.example.pl"
    assert mail.recipients == ["jan@example.com", "biuro@example.com"]


def test_no_references_headers_for_a_first_message():
    msg = _parsed(_mail(in_reply_to="", references=[]))

    assert msg["In-Reply-To"] is None and msg["References"] is None


def test_references_add_the_answered_message_once_keeping_order():
    assert thread_references(["a@x", "b@x", "a@x"], "c@x") == ["a@x", "b@x", "c@x"]
    assert thread_references(["a@x", "b@x"], "b@x") == ["a@x", "b@x"]
    assert thread_references([], "") == []


@pytest.mark.parametrize(
    ("subject", "number", "expected"),
    [
        ("Re: Reklamacja", 104233, "Re: Reklamacja [#104233]"),
        ("Re: Reklamacja [#104233]", 104233, "Re: Reklamacja [#104233]"),
        ("[#104233] Re: Reklamacja [#104233]", 104233, "[#104233] Re: Reklamacja"),
        ("Re: [#1042] Reklamacja", 104233, "Re: [#1042] Reklamacja [#104233]"),
        ("", 5, "[#5]"),
        ("  Re: bez numeru  ", 0, "Re: bez numeru"),
    ],
)
def test_thread_tag_is_in_the_subject_exactly_once(subject, number, expected):
    assert tag_subject(subject, number) == expected


@pytest.mark.parametrize(
    "subject",
    ["Re: x\r\nBcc: all@evil.example", "Re: x\nBcc: all@evil.example", "Re: x\rBcc: y", "Re: x\u2028Bcc: y"],
)
def test_line_breaks_in_the_subject_are_refused(subject):
    with pytest.raises(InvalidReply, match="CR or LF"):
        build_message(_mail(subject=subject), WHEN)


@pytest.mark.parametrize(
    "address",
    [
        "jan@example.com\r\nBcc: all@evil.example",
        "jan@example.com\nBcc: all@evil.example",
        "jan@example.com, all@evil.example",
        "Jan <jan@example.com> trailing",
        "jan@example.com>",
        "jan",
        "jan@@example.com",
        "@example.com",
        "jan@-example.com",
        "",
        "zażółć@example.com",
        "undisclosed-recipients:;",
    ],
)
def test_invalid_or_multiple_addresses_are_refused(address):
    with pytest.raises(InvalidReply):
        parse_address(address, "to")


@pytest.mark.parametrize(
    ("address", "addr_spec", "name"),
    [
        ("jan@example.com", "jan@example.com", ""),
        ("<jan@example.com>", "jan@example.com", ""),
        ("Jan Żółtowski <jan@example.com>", "jan@example.com", "Jan Żółtowski"),
        ('"Kowalski, Jan" <jan.k+zwroty@sub.example.com>', "jan.k+zwroty@sub.example.com", "Kowalski, Jan"),
    ],
)
def test_valid_addresses_are_accepted(address, addr_spec, name):
    parsed = parse_address(address, "to")

    assert (parsed.addr_spec, parsed.display_name) == (addr_spec, name)


def test_message_ids_lose_brackets_and_cannot_carry_line_breaks():
    assert clean_message_id("<a.b@x.example>", "in_reply_to") == "a.b@x.example"
    for bad in ["a@x\r\nBcc: y", "a b@x", "", "<>", "a<b@x"]:
        with pytest.raises(InvalidReply):
            clean_message_id(bad, "in_reply_to")


def test_only_the_body_text_goes_out():
    msg = _parsed(_mail(body_text="Tylko ta treść."))

    assert not msg.is_multipart()
    assert msg.get_content().replace("\r\n", "\n") == "Tylko ta treść.\n"
