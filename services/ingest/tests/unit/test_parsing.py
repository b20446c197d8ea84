from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from responer_ingest.domain import parse_mail
from responer_ingest.domain.parsing import derived_message_id

pytestmark = pytest.mark.unit


def rt(corpus: Path, name: str):
    return parse_mail((corpus / "rt-emails" / "emails" / name).read_bytes())


def test_8bit_latin1_sender_name_is_decoded(corpus):
    mail = rt(corpus, "new-ticket-from-iso-8859-1")
    assert mail.from_name == "Wilhelmsen Håvard"
    assert mail.from_email == "hw@nordkapp.net"
    assert mail.subject == "Re: rt-3.0.3pre1"
    assert any("From" in r for r in mail.charset_repairs)


def test_gb18030_encoded_word_subject_and_body(corpus):
    mail = rt(corpus, "new-ticket-from-gb18030")
    assert mail.subject == "测试"
    assert mail.text == "测试"


def test_undeclared_koi8r_subject_is_recognised_as_cyrillic(corpus):
    mail = rt(corpus, "russian-subject-no-content-type")
    assert mail.subject == "тест тест"
    assert mail.from_name == "Dmitry S. Sivachenko"


def test_encoded_words_split_across_folded_lines_join(corpus):
    assert rt(corpus, "subject-with-folding-ws").subject == "test"


def test_very_long_subject_is_unfolded(corpus):
    subject = rt(corpus, "very-long-subject").subject
    assert "\n" not in subject and subject.startswith("0123456789") and len(subject) > 200


def test_quoted_printable_subject_in_nested_rfc822(corpus):
    mail = rt(corpus, "nested-rfc-822")
    assert mail.subject == "[Jonas Liljegren] Re: [Para] Nivåer?"
    assert "message/rfc822" in mail.part_types
    assert mail.quoted_message_ids == ("877k76uxk2.fsf@example.com",)
    assert mail.attachments[0].filename == "Re: [Para] Nivåer?.eml"
    assert mail.text.startswith("Material för att uppdatera texten om nivåer.")


def test_rfc2231_filename_continuations_in_iso_2022_jp(corpus):
    mail = rt(corpus, "rfc2231-attachment-filename-continuations")
    assert [a.filename for a in mail.attachments] == ["新しいテキスト ドキュメント.txt"]
    assert mail.subject == "Client ? Japanese Attachment Name issue"


def test_inline_uuencoded_file_becomes_an_attachment(corpus):
    mail = rt(corpus, "notes-uuencoded")
    jpeg = next(a for a in mail.attachments if a.filename == "Naz_Head.jpg")
    assert jpeg.payload.startswith(b"\xff\xd8\xff")
    assert "begin 644" not in mail.text
    assert "Lotus Notes" in mail.text


def test_plain_alternative_preferred_html_kept(corpus):
    mail = rt(corpus, "multipart-alternative-with-umlaut")
    assert "Mit freundlichen Grüßen" in mail.text
    assert "<" not in mail.text
    assert "<html" in mail.html.lower() or "<p" in mail.html.lower()


def test_html_only_mail_gets_readable_text(corpus):
    mail = rt(corpus, "text-html-with-umlaut")
    assert mail.text.startswith("Hello,\n\nist this kind of Messages")
    assert "Grüßen" in mail.text and "<" not in mail.text


def test_bounce_report_exposes_original_message_id_and_status(corpus):
    mail = rt(corpus, "multipart-report")
    assert mail.from_email == "mailer-daemon@other.example.com"
    assert mail.quoted_message_ids == ("200308221615.h7MGFGac020135@mx12.other.example.com",)
    kinds = [ctype for ctype, _ in mail.report_parts]
    assert "message/delivery-status" in kinds
    status = dict(mail.report_parts)["message/delivery-status"]
    assert "Status: 5" in status


def test_nested_digest_lists_only_top_level_attached_messages(corpus):
    mail = rt(corpus, "nested-mime-sample")
    assert [a.filename for a in mail.attachments] == ["first outer message.eml", "2nd outer message.eml"]
    assert mail.part_types.count("message/rfc822") > 2  # the nested ones are still walked


def test_outlook_crlf_utf8_emoji(corpus):
    mail = rt(corpus, "outlook-rfc822")
    assert "😊" in mail.text
    assert mail.from_email == "root@localhost"


def test_unlisted_recipients_does_not_break_header_access(corpus):
    raw = (corpus / "notmuch/corpora/lkml/cur/1382298770.002930:2,").read_bytes()
    with pytest.raises(AttributeError):  # the stdlib bug we work around (cpython#83281)
        str(email.message_from_bytes(raw, policy=email.policy.default)["To"])
    mail = parse_mail(raw)
    assert mail.to == ()
    assert mail.message_id == "23204.1277472412@redhat.com"
    assert mail.from_email == "dhowells-h+wxahxf7alqt0dzr+alfa@public.gmane.org"


def test_every_corpus_file_parses(corpus):
    files = [p for p in corpus.rglob("*") if p.is_file() and p.suffix not in {".json", ".md", ".mbox"}]
    assert len(files) > 700
    for path in files:
        mail = parse_mail(path.read_bytes())
        assert mail.message_id and "<" not in mail.message_id


def test_missing_message_id_is_derived_from_content_deterministically():
    raw = b"From: a@example.com\nSubject: hi\n\nbody\n"
    first, second = parse_mail(raw), parse_mail(raw)
    assert first.message_id == second.message_id == derived_message_id(raw)
    assert first.message_id.endswith("@derived.responer") and first.message_id_derived


def test_references_tolerate_garbage_and_drop_self_and_duplicates():
    raw = (
        b"Message-ID: <me@x>\n"
        b"References: <a@x> garbage <b@\n x> <me@x> <a@x>\n"
        b"In-Reply-To: <b@x> (Your message of Mon, 1 Jan)\n\nhi\n"
    )
    mail = parse_mail(raw)
    assert mail.references == ("a@x", "b@x")
    assert mail.in_reply_to == ("b@x",)


def test_references_without_brackets():
    mail = parse_mail(b"Message-ID: me@x\nReferences: a@x b@x\n\nhi\n")
    assert mail.message_id == "me@x"
    assert mail.references == ("a@x", "b@x")


def test_date_is_aware_or_none():
    assert parse_mail(b"Date: Mon, 1 Jan 2024 10:00:00 -0000\n\nx").date == datetime(
        2024, 1, 1, 10, tzinfo=UTC
    )
    assert parse_mail(b"Date: yesterday-ish\n\nx").date is None


def test_polish_windows_1250_mislabelled_as_iso_8859_2():
    body = "Zażółć gęślą jaźń – dziękuję".encode("cp1250")
    raw = b"Content-Type: text/plain; charset=iso-8859-2\nContent-Transfer-Encoding: 8bit\n\n" + body
    mail = parse_mail(raw)
    assert mail.text == "Zażółć gęślą jaźń – dziękuję"
    assert mail.charset_repairs


def test_undeclared_iso_8859_2_polish_body_and_unknown_charset():
    raw = b"Content-Type: text/plain; charset=x-unknown\n\n" + "Proszę o fakturę, źle naliczono".encode(
        "iso-8859-2"
    )
    assert parse_mail(raw).text == "Proszę o fakturę, źle naliczono"


def test_8bit_utf8_subject_header():
    mail = parse_mail("Subject: Reklamacja zamówienia\nFrom: Jan Żółw <JAN@Example.PL>\n\nx".encode())
    assert mail.subject == "Reklamacja zamówienia"
    assert (mail.from_name, mail.from_email) == ("Jan Żółw", "jan@example.pl")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 50,
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: message/rfc822\n\n",
        b"Content-Type: multipart/report; report-type=delivery-status\n\n",
        b"Subject: =?bogus?Q?x?= =?utf-8?B?%%%?=\nContent-Transfer-Encoding: base64\n\n@@@not base64",
        b"Content-Type: text/plain; charset=utf-7\n\n+AGEAYgBj-\xff",
    ],
)
def test_never_raises_on_malformed_input(raw):
    mail = parse_mail(raw)
    assert mail.raw_size == len(raw)
