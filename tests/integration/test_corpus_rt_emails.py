"""Request Tracker's messy-MIME messages (../shared/corpus/rt-emails): the decoded values an agent sees.

Every expected value was read off the raw bytes of the file named in the test (the comment says
which bytes), not copied from the parser's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from responer_ingest.domain import ParsedMail, parse_mail

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


@pytest.fixture(scope="module")
def rt():
    folder = CORPUS / "rt-emails" / "emails"
    if not folder.is_dir():
        pytest.skip(f"real-mail corpus not found at {CORPUS} (expected ../shared/corpus beside the repo)")

    def parse(name: str) -> ParsedMail:
        return parse_mail((folder / name).read_bytes())

    return parse


def test_gb18030_encoded_word_subject_and_body(rt):
    mail = rt("new-ticket-from-gb18030")  # =?gb18030?B?suLK1A===?= and body b2 e2 ca d4
    assert (mail.subject, mail.text, mail.from_email) == ("测试", "测试", "root@localhost")
    assert mail.charset_repairs == ()


def test_iso_8859_1_8bit_sender_with_utf8_body(rt):
    mail = rt("new-ticket-from-iso-8859-1-full")  # From: Wilhelmsen H\xe5vard, body in undeclared utf-8
    assert (mail.from_name, mail.from_email) == ("Wilhelmsen Håvard", "hw@nordkapp.net")
    assert mail.subject == "Re: rt-3.0.3pre1"
    assert "it is letters like: ø æ å" in mail.text
    assert mail.text.endswith("-- \nHåvard ")
    # The customer quotes the mojibake RT made ("Ã¸" as c3 83 c2 b8): kept as written, not "fixed".
    assert "strange letters like Ã¸" in mail.text


def test_iso_8859_1_8bit_short(rt):
    mail = rt("new-ticket-from-iso-8859-1")
    assert (mail.from_name, mail.subject, mail.text) == ("Wilhelmsen Håvard", "Re: rt-3.0.3pre1", "Håvard")


def test_russian_subject_without_content_type_is_koi8r(rt):
    # Subject bytes d4 c5 d3 d4 20 d4 c5 d3 d4, body f4 e5 f3 f4: koi8-r "тест тест" and "ТЕСТ"
    # (windows-1251 would read them "ФЕУФ ФЕУФ" and "феуф").
    mail = rt("russian-subject-no-content-type")
    assert (mail.subject, mail.text) == ("тест тест", "ТЕСТ")
    assert (mail.from_name, mail.from_email) == ("Dmitry S. Sivachenko", "mitya@fling-wing.example.com")


def test_lotus_notes_uuencoded_attachment(rt):
    mail = rt("notes-uuencoded")
    assert mail.subject == "Test e-mail which exhibits problems with RT"
    assert (mail.from_name, mail.from_email) == ("Maxime HENRION", "mhenrion@example.com")
    [jpeg] = mail.attachments
    assert (
        jpeg.filename == "Naz_Head.jpg" and jpeg.payload.startswith(b"\xff\xd8\xff") and jpeg.size > 100_000
    )
    assert mail.text.startswith("I send you this mail from Lotus Notes") and "begin 644" not in mail.text


def test_nested_rfc822_subject_sender_and_text_available(rt):
    mail = rt("nested-rfc-822")  # Subject: [Jonas Liljegren] Re: [Para] =?iso-8859-1?q?Niv=E5er=3F?=
    assert mail.subject == "[Jonas Liljegren] Re: [Para] Nivåer?"
    [attached] = mail.attached_messages
    assert (attached.subject, attached.from_name, attached.from_email) == (
        "Re: [Para] Nivåer?",
        "Jonas Liljegren",
        "jonas@example.com",
    )
    assert attached.message_id == "877k76uxk2.fsf@example.com"
    assert attached.text
    assert [a.filename for a in mail.attachments] == ["Re: [Para] Nivåer?.eml"]


def test_nested_mime_in_mime_lists_each_level_files(rt):
    mail = rt("nested-mime-sample")
    assert [a.filename for a in mail.attachments] == ["first outer message.eml", "2nd outer message.eml"]
    assert [(m.subject, m.attachment_names) for m in mail.attached_messages] == [
        ("first outer message", ("middle message.eml", "middle message.eml")),
        ("2nd outer message", ("middle message.eml", "middle message.eml")),
    ]
    assert mail.text.startswith("MIME is fun at times.")


def test_attached_eml_files_from_apple_mail(rt):
    mail = rt("email-file-attachment.eml")
    assert mail.text == "This is a test with an email file attachment."
    assert [a.filename for a in mail.attachments] == ["test-email.eml"]
    assert [(m.subject, m.from_email) for m in mail.attached_messages] == [
        ("This is a test", "user1@example.com")
    ]


def test_rfc2231_filename_continuations_in_iso_2022_jp(rt):
    mail = rt("rfc2231-attachment-filename-continuations")
    # filename*0*=ISO-2022-JP'ja'%1b$B%3f7$7$$%25F%25%2d%259%25H%1b%28B; *1*=%20; *2*=...; *3=.txt
    assert [a.filename for a in mail.attachments] == ["新しいテキスト ドキュメント.txt"]
    assert mail.subject == "Client ? Japanese Attachment Name issue"  # =?ISO-2022-JP?B?Pw==?= is "?"


def test_multipart_report_bounce(rt):
    mail = rt("multipart-report")
    assert mail.subject == "Returned mail: User unknown"
    assert (mail.from_name, mail.from_email) == ("Mail Delivery Subsystem", "mailer-daemon@other.example.com")
    assert "message/delivery-status" in dict(mail.report_parts)
    assert mail.text.startswith("The original message was received at Sat, 23 Aug 2003 00:15:18 +0800")
    assert [(m.subject, m.from_email) for m in mail.attached_messages] == [
        ("Thank you!", "support@example.com")
    ]


def test_outlook_crlf_message_with_attached_message(rt):
    mail = rt("outlook-rfc822")
    assert mail.text == "Could this look more spammy? “Check out the attached file.” 😊"
    assert (mail.subject, mail.from_name, mail.from_email) == (
        "msg attachment",
        "root@localhost",
        "root@localhost",
    )
    assert [(m.subject, m.from_name, m.from_email) for m in mail.attached_messages] == [
        ("Updates to our terms of use", "Microsoft", "foo@example.com")
    ]
    assert all("\r" not in value for value in (mail.text, mail.subject, mail.attached_messages[0].text))


def test_long_and_folded_subjects(rt):
    long = rt("very-long-subject").subject
    assert long == "0123456789" * 30
    assert rt("subject-with-folding-ws").subject == "test"  # =?ISO-8859-1?Q?te?=\n =?ISO-8859-1?Q?st?=


@pytest.mark.parametrize("name", [f"msg{n}" for n in range(1, 8)])
def test_iso_8859_15_series_with_euro_sign(rt, name):
    mail = rt(f"8859-15-message-series/{name}")  # =?ISO-8859-15?Q?test_=E4=F6=FC=DF=C4=D6=DC=DF=A4?=
    assert mail.subject == "test äöüßÄÖÜß€"
    assert (mail.from_name, mail.from_email) == ("Dirk Pape", "pape@inf.fu-berlin.de")
    assert mail.text == "test nochmal in anderer Queue\ntest äöüßÄÖÜß€"


def test_iso_8859_15_digest_of_the_series(rt):
    mail = rt("8859-15-message-series/dir")
    assert len(mail.attached_messages) == 7
    assert {m.subject for m in mail.attached_messages} == {"test äöüßÄÖÜß€"}


def test_html_with_umlaut_alternative_and_html_only(rt):
    assert "Mit freundlichen Grüßen" in rt("multipart-alternative-with-umlaut").text
    html_only = rt("text-html-with-umlaut")
    assert html_only.text.startswith("Hello,\n\nist this kind of Messages")
    assert "Grüßen" in html_only.text and "<" not in html_only.text
