"""The demo generator: parseable without defects, deterministic, and covering what the demo must show."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

import pytest
from responer_cli.demo import DEMO_ADDRESS, demo_messages


@pytest.fixture(scope="module")
def parsed() -> list[EmailMessage]:
    return [email.message_from_bytes(raw, policy=policy.default) for raw in demo_messages()]


def test_deterministic_and_a_few_dozen():
    first = demo_messages()
    assert first == demo_messages()
    assert 25 <= len(first) <= 60
    assert demo_messages(seed=1) != first


def test_every_message_parses_without_defects(parsed):
    for msg in parsed:
        for part in msg.walk():
            assert not part.defects, (msg["Subject"], part.defects)
        assert msg["Message-ID"] and msg["Date"] and msg["From"]
        assert DEMO_ADDRESS in str(msg["To"])
    ids = [m["Message-ID"] for m in parsed]
    assert len(set(ids)) == len(ids)


def test_polish_in_utf8_and_iso_8859_2(parsed):
    charsets = {
        p.get_content_charset() for m in parsed for p in m.walk() if p.get_content_type() == "text/plain"
    }
    assert {"utf-8", "iso-8859-2"} <= charsets
    latin2 = [m for m in parsed if m.get_content_charset() == "iso-8859-2"]
    assert any("ł" in m.get_content() or "ń" in m.get_content() for m in latin2)
    raw = [r for r in demo_messages() if b"iso-8859-2" in r]
    assert any(b"=?iso-8859-2?" in r for r in raw)  # headers too, not only the body
    assert any("żółw" in str(m["Subject"]) for m in parsed)


def test_replies_form_threads_through_ids_not_in_the_inbox(parsed):
    known = {m["Message-ID"] for m in parsed}
    replies = [m for m in parsed if m["In-Reply-To"] and not m["Auto-Submitted"]]
    assert len(replies) >= 5
    for reply in replies:
        refs = str(reply["References"]).split()
        assert refs[0] in known  # the customer's first mail is in the inbox
        assert refs[-1] == str(reply["In-Reply-To"]) and refs[-1].endswith("@demo.responer.test>")
        assert refs[-1] not in known  # our answer is not: threading must use a placeholder
    # and one follow-up that only its subject can thread
    assert any(str(m["Subject"]).startswith("Odp: ") and not m["In-Reply-To"] for m in parsed)


def test_system_mail_is_there(parsed):
    (bounce,) = [m for m in parsed if m.get_content_type() == "multipart/report"]
    assert bounce.get_param("report-type") == "delivery-status"
    assert [p.get_content_type() for p in bounce.iter_parts()] == [
        "text/plain",
        "message/delivery-status",
        "message/rfc822",
    ]
    assert "Status: 5.4.4" in bounce.as_string()
    assert demo_messages()[parsed.index(bounce)].startswith(b"Return-Path: <>")

    (auto,) = [
        m for m in parsed if m["Auto-Submitted"] == "auto-replied" and m.get_content_type() == "text/plain"
    ]
    assert auto["X-Autoreply"] == "yes" and auto["In-Reply-To"]

    (news,) = [m for m in parsed if m["List-Unsubscribe"]]
    assert news["List-Id"] and news["Precedence"] == "bulk"

    assert any(str(m["From"]).split("<")[-1].startswith("no-reply@") for m in parsed)


def test_pdf_attachment(parsed):
    attachments = [a for m in parsed for a in m.iter_attachments()]
    (pdf,) = [a for a in attachments if a.get_content_type() == "application/pdf"]
    data = pdf.get_content()
    assert pdf.get_filename().endswith(".pdf")
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    # the xref offsets point at the objects
    xref_at = int(data.rsplit(b"startxref", 1)[1].split()[0])
    assert data[xref_at:].startswith(b"xref")
    first_obj = int(data[xref_at:].split(b"\n")[3].split()[0])
    assert data[first_obj:].startswith(b"1 0 obj")
