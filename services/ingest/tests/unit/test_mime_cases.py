"""Messy MIME as real clients write it: each test builds the bytes a known client or gateway sends
(or reads a real sample from tests/unit/data) and asserts the decoded values an agent would see."""

from __future__ import annotations

import base64
import quopri
from pathlib import Path

import pytest
from responer_ingest.domain import parse_mail

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent / "data"


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data)


def mixed(*parts: bytes, headers: bytes = b"", boundary: bytes = b"b1") -> bytes:
    out = (
        b"From: Jan Kowalski <jan@example.pl>\nTo: bok@sklep.pl\nSubject: test\n"
        b"Message-ID: <m1@example.pl>\nMIME-Version: 1.0\n" + headers
    )
    if b"Content-Type:" not in headers:
        out += b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\n'
    out += b"\n"
    for part in parts:
        out += b"--" + boundary + b"\n" + part + b"\n"
    return out + b"--" + boundary + b"--\n"


PLAIN = (
    b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + "W załączniku.".encode()
)


# --- headers: RFC 2047 / 2231, mislabelled and 8-bit ---------------------------------------------


def test_rfc2047_word_inside_quoted_filename_parameter_gmail_and_outlook_style():
    gmail = (
        b"Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document;\n"
        b' name="=?UTF-8?B?Rm9ybXVsYXJ6IHpnxYJvc3plbmlhIHN6a29keS5kb2N4?="\n'
        b"Content-Disposition: attachment;\n"
        b' filename="=?UTF-8?B?Rm9ybXVsYXJ6IHpnxYJvc3plbmlhIHN6a29keS5kb2N4?="\n'
        b"Content-Transfer-Encoding: base64\n\nUEsDBA==\n"
    )
    outlook = (
        b'Content-Type: application/pdf; name="=?iso-8859-2?Q?Faktura_VAT_nr_12_=A3=F3d=BC.pdf?="\n'
        b'Content-Disposition: attachment; filename="=?iso-8859-2?Q?Faktura_VAT_nr_12_?=\n'
        b' =?iso-8859-2?Q?=A3=F3d=BC.pdf?="\n'
        b"Content-Transfer-Encoding: base64\n\nJVBERi0=\n"
    )
    mail = parse_mail(mixed(PLAIN, gmail, outlook))
    assert [a.filename for a in mail.attachments] == [
        "Formularz zgłoszenia szkody.docx",
        "Faktura VAT nr 12 Łódź.pdf",
    ]
    assert mail.attachments[1].payload.startswith(b"%PDF")


def test_rfc2231_filename_with_charset_and_continuations():
    part = (
        b"Content-Type: application/pdf\n"
        b"Content-Disposition: attachment;\n"
        b" filename*0*=utf-8''Zam%C3%B3wienie%20;\n"
        b" filename*1*=nr%2012%20%E2%80%93%20korekta.pdf\n"
        b"Content-Transfer-Encoding: base64\n\nJVBERi0=\n"
    )
    assert [a.filename for a in parse_mail(mixed(PLAIN, part)).attachments] == [
        "Zamówienie nr 12 – korekta.pdf"
    ]


def test_latin1_label_on_windows_1250_polish_subject_and_body_is_repaired():
    body = "Dzień dobry, towar przyszedł uszkodzony, proszę o zwrot pieniędzy.".encode("cp1250")
    raw = (
        b"From: =?iso-8859-1?Q?Pawe=B3_Zieli=F1ski?= <pawel@example.pl>\n"
        b"Subject: =?iso-8859-1?Q?Reklamacja_-_z=B3a_jako=9C=E6?=\n"
        b"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
        + quopri.encodestring(body)
    )
    mail = parse_mail(raw)
    assert mail.subject == "Reklamacja - zła jakość"
    assert mail.from_name == "Paweł Zieliński"
    assert mail.text == "Dzień dobry, towar przyszedł uszkodzony, proszę o zwrot pieniędzy."
    assert any("cp1250" in r for r in mail.charset_repairs)


def test_genuine_latin1_text_is_left_alone():
    body = "¿Qué tal? Precio: £5, 10 m³ – cœur, Œuvre, Håvard Ørsted".encode("cp1252")
    raw = b"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n" + body
    mail = parse_mail(raw)
    assert mail.text == "¿Qué tal? Precio: £5, 10 m³ – cœur, Œuvre, Håvard Ørsted"
    assert mail.charset_repairs == ()


def test_iso_8859_2_encoded_words_and_8bit_latin2_sender():
    raw = (
        "From: Łukasz Żółtowski <LZ@Example.PL>\n".encode("iso-8859-2")
        + b"Subject: =?ISO-8859-2?Q?Zwrot_zam=F3wienia_nr_4411_-_pro=B6ba?=\n"
        b"Content-Type: text/plain; charset=iso-8859-2\nContent-Transfer-Encoding: 8bit\n\n"
        + "Proszę o zwrot środków.".encode("iso-8859-2")
    )
    mail = parse_mail(raw)
    assert (mail.from_name, mail.from_email) == ("Łukasz Żółtowski", "lz@example.pl")
    assert mail.subject == "Zwrot zamówienia nr 4411 - prośba"
    assert mail.text == "Proszę o zwrot środków."


def test_japanese_label_on_euc_jp_bytes_uses_the_sibling_codec():
    text = "メールアドレスが見つかりませんでした。"
    raw = b"Content-Type: text/plain; charset=iso-2022-jp\n\n" + text.encode("euc_jp")
    mail = parse_mail(raw)
    assert mail.text == text
    assert mail.charset_repairs == ("text/plain: iso-2022-jp->euc_jp",)


def test_undeclared_koi8r_and_windows_1251_are_told_apart():
    for codec in ("koi8-r", "cp1251"):
        raw = b"Subject: " + "Заказ не пришёл".encode(codec) + b"\n\n" + "ТЕСТ".encode(codec)
        mail = parse_mail(raw)
        assert (mail.subject, mail.text) == ("Заказ не пришёл", "ТЕСТ"), codec


def test_base64_crlf_text_is_normalised_to_newlines():
    part = b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + b64(
        "Dzień dobry,\r\n\r\nproszę o fakturę.\r\n".encode()
    )
    assert parse_mail(part).text == "Dzień dobry,\n\nproszę o fakturę."


# --- bodies ----------------------------------------------------------------------------------------


def test_html_only_polish_mail_gets_readable_text():
    html = (
        "<html><head><style>p{margin:0}</style><title>x</title></head><body>"
        "<p>Dzie&#324; dobry,</p><p>zam&oacute;wienie nr&nbsp;<b>4411</b> zawiera:</p>"
        "<table><tr><th>Produkt</th><th>Ilo&#347;&#263;</th></tr>"
        "<tr><td>Czajnik elektryczny</td><td>2</td></tr></table>"
        "<ol><li>zwrot</li><li>wymiana<ul><li>kolor: bia&#322;y</li></ul></li></ol>"
        '<p>Szczeg&oacute;&#322;y: <a href="https://sklep.pl/z/4411">kliknij tutaj</a>.</p>'
        "<p>Pozdrawiam<br>Magdalena W&oacute;jcik</p></body></html>"
    ).encode("iso-8859-2")
    raw = (
        b"Subject: zamowienie\nContent-Type: text/html; charset=iso-8859-2\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n" + quopri.encodestring(html)
    )
    assert parse_mail(raw).text == (
        "Dzień dobry,\n\nzamówienie nr 4411 zawiera:\n\nProdukt | Ilość\nCzajnik elektryczny | 2\n\n"
        "1. zwrot\n2. wymiana\n  - kolor: biały\n\n"
        "Szczegóły: kliknij tutaj <https://sklep.pl/z/4411>.\n\nPozdrawiam\nMagdalena Wójcik"
    )


def test_html_charset_declared_only_in_meta_tag():
    html = '<html><head><meta charset="windows-1250"></head><body>Zażółć gęślą jaźń</body></html>'
    raw = b"Content-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n" + html.encode("cp1250")
    mail = parse_mail(raw)
    assert mail.text == "Zażółć gęślą jaźń"
    assert mail.charset_repairs == ()


def test_named_inline_text_part_is_the_body_when_there_is_no_other_text():
    raw = mixed(
        b'Content-Type: text/plain; name="deliveryproblems.txt"\n\nThe following addresses failed:\n'
        b"<kijitora@example.co.jp>\n"
    )
    mail = parse_mail(raw)
    assert mail.text == "The following addresses failed:\n<kijitora@example.co.jp>"
    assert [a.filename for a in mail.attachments] == ["deliveryproblems.txt"]


def test_inline_uuencoded_file_is_cut_out_of_the_text():
    payload = bytes(range(256)) * 3
    import binascii

    lines = b"".join(binascii.b2a_uu(payload[i : i + 45]) for i in range(0, len(payload), 45))
    raw = b"Subject: uu\n\nSee the file.\n\nbegin 644 dane.bin\n" + lines + b"`\nend\n\nRegards\n"
    mail = parse_mail(raw)
    assert [(a.filename, a.payload) for a in mail.attachments] == [("dane.bin", payload)]
    assert "begin 644" not in mail.text and mail.text.startswith("See the file.")


# --- structure: related, nested, signed, TNEF, broken boundaries ---------------------------------


def test_related_inline_images_are_inline_and_real_attachments_are_not():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    related = (
        b'Content-Type: multipart/related; boundary="rel"\n\n'
        b"--rel\nContent-Type: text/html; charset=utf-8\n\n"
        b'<p>Logo: <img src="cid:image001.png@01DA"></p><p><img src="cid:sig@x"></p>\n'
        b'--rel\nContent-Type: image/png; name="image001.png"\nContent-ID: <image001.png@01DA>\n'
        b'Content-Disposition: inline; filename="image001.png"\nContent-Transfer-Encoding: base64\n\n'
        + b64(png)
        + b"--rel--\n"
    )
    # Outlook: a signature logo marked `attachment` in multipart/mixed but shown through cid:.
    logo = (
        b'Content-Type: image/png; name="sig.png"\nContent-ID: <sig@x>\n'
        b'Content-Disposition: attachment; filename="sig.png"\nContent-Transfer-Encoding: base64\n\n'
        + b64(png)
    )
    photo = (  # Apple Mail: a named inline photo between paragraphs is something the customer sent
        b'Content-Type: image/jpeg; name="uszkodzenie.jpg"\nContent-Disposition: inline; '
        b'filename="uszkodzenie.jpg"\nContent-Transfer-Encoding: base64\n\n' + b64(b"\xff\xd8\xff\xe0")
    )
    pdf = (
        b'Content-Type: application/pdf; name="faktura.pdf"\nContent-Disposition: attachment; '
        b'filename="faktura.pdf"\nContent-Transfer-Encoding: base64\n\n' + b64(b"%PDF-1.4")
    )
    mail = parse_mail(mixed(related, logo, photo, pdf))
    assert {a.filename: a.inline for a in mail.attachments} == {
        "image001.png": True,
        "sig.png": True,
        "uszkodzenie.jpg": False,
        "faktura.pdf": False,
    }
    assert mail.text == "Logo:"


def test_forwarded_message_keeps_its_own_subject_sender_and_files():
    inner = (
        b"From: =?utf-8?Q?Anna_Nowak?= <anna@klient.pl>\nSubject: =?utf-8?Q?Zam=C3=B3wienie_4411?=\n"
        b"Message-ID: <inner-1@klient.pl>\nDate: Mon, 5 Jan 2026 10:00:00 +0100\n"
        b'Content-Type: multipart/mixed; boundary="in"\n\n'
        b"--in\nContent-Type: text/plain; charset=utf-8\n\n"
        + "Proszę o status.\n".encode()
        + b'--in\nContent-Type: application/pdf; name="paragon.pdf"\n'
        b'Content-Disposition: attachment; filename="paragon.pdf"\nContent-Transfer-Encoding: base64\n\n'
        + b64(b"%PDF-1.4")
        + b"--in--\n"
    )
    part = b'Content-Type: message/rfc822\nContent-Disposition: attachment; filename="fwd.eml"\n\n' + inner
    mail = parse_mail(mixed(PLAIN, part))
    assert mail.text == "W załączniku."
    assert [a.filename for a in mail.attachments] == ["fwd.eml"]
    [attached] = mail.attached_messages
    assert (attached.subject, attached.from_name, attached.from_email) == (
        "Zamówienie 4411",
        "Anna Nowak",
        "anna@klient.pl",
    )
    assert attached.attachment_names == ("paragon.pdf",)
    assert attached.text == "Proszę o status."
    assert mail.quoted_message_ids == ("inner-1@klient.pl",)


def test_message_that_is_only_an_inline_forward_shows_the_forwarded_text():
    inner = b"From: Neko <neko@example.com>\nSubject: Nyaan\n\nHello from inside\n"
    mail = parse_mail(mixed(b"Content-Type: message/rfc822\nContent-Disposition: inline\n\n" + inner))
    assert mail.text == (
        "-------- Attached message --------\nFrom: Neko <neko@example.com>\nSubject: Nyaan\n\nHello from inside"
    )


@pytest.mark.parametrize("sample", ["signed-detached.eml", "signed-opaque.eml", "signed-opaque-ber.eml"])
def test_smime_signed_mail_is_readable_and_the_signature_is_no_attachment(sample):
    mail = parse_mail((DATA / "smime" / sample).read_bytes())
    assert mail.subject == "Faktura korygująca"
    assert mail.text == "Dzień dobry, w załączniku faktura korygująca.\nPozdrawiam, Anna Nowak"
    assert [a.filename for a in mail.attachments] == ["korekta.pdf"]
    assert mail.attachments[0].payload.startswith(b"%PDF-1.4")
    assert mail.signed and not mail.encrypted


def test_pgp_signature_is_no_attachment():
    raw = mixed(
        PLAIN,
        b'Content-Type: application/pgp-signature; name="signature.asc"\n\n-----BEGIN PGP SIGNATURE-----\n',
        headers=b'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary="b1"\n',
    )
    mail = parse_mail(raw)
    assert mail.text == "W załączniku." and mail.attachments == () and mail.signed


def test_smime_encrypted_mail_stays_an_attachment_and_is_flagged():
    raw = (
        b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
        b'Content-Disposition: attachment; filename="smime.p7m"\nContent-Transfer-Encoding: base64\n\n'
        + b64(b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03" + b"\x00" * 40)
    )
    mail = parse_mail(raw)
    assert mail.encrypted and [a.filename for a in mail.attachments] == ["smime.p7m"]
    assert any(d.startswith("UnreadableSmime") for d in mail.parse_defects)


def winmail(tnef: bytes, ctype: bytes = b"application/ms-tnef") -> bytes:
    part = (
        b"Content-Type: " + ctype + b'; name="winmail.dat"\nContent-Disposition: attachment; '
        b'filename="winmail.dat"\nContent-Transfer-Encoding: base64\n\n' + b64(tnef)
    )
    return mixed(PLAIN, part)


def test_tnef_winmail_dat_is_replaced_by_the_files_inside():
    mail = parse_mail(winmail((DATA / "tnef" / "umlaut.tnef").read_bytes()))
    assert [a.filename for a in mail.attachments] == [
        "TBZ PARIV GmbH.jpg",
        "image003.jpg",
        "UmlautAnhang-äüö.txt",
    ]
    assert mail.attachments[0].content_type == "image/jpeg"
    assert mail.attachments[0].payload.startswith(b"\xff\xd8")
    assert mail.text == "W załączniku."


def test_tnef_relabelled_octet_stream_still_unpacks():
    mail = parse_mail(winmail((DATA / "tnef" / "two-files.tnef").read_bytes(), b"application/octet-stream"))
    assert [(a.filename, a.size) for a in mail.attachments] == [("AUTHORS", 244), ("README", 893)]


def test_tnef_html_body_is_the_text_when_the_mime_has_none():
    part = (
        b'Content-Type: application/ms-tnef; name="winmail.dat"\nContent-Transfer-Encoding: base64\n\n'
        + b64((DATA / "tnef" / "body.tnef").read_bytes())
    )
    mail = parse_mail(mixed(part))
    assert mail.attachments == ()
    assert mail.text and "<" not in mail.text


def test_damaged_tnef_is_kept_as_the_blob_with_a_defect():
    broken = (DATA / "tnef" / "two-files.tnef").read_bytes()[:40]
    mail = parse_mail(winmail(broken))
    assert [a.filename for a in mail.attachments] == ["winmail.dat"]
    assert {"TnefWithoutFilesOrBody", "UnreadableTnef"} & {d.split(":")[0] for d in mail.parse_defects}


def test_boundary_parameter_on_an_unfolded_line_is_recovered():
    # Exchange Online DSNs: "boundary=" starts a line of its own, so it is not part of Content-Type.
    raw = (
        b"Subject: Undeliverable\nContent-Type: multipart/alternative; differences=Content-Type;\n"
        b'boundary="1eeb-f1"\n\n--1eeb-f1\nContent-Type: text/plain; charset=us-ascii\n\n'
        b"Delivery has failed to these recipients.\n--1eeb-f1\nContent-Type: text/html\n\n"
        b"<p>Delivery has failed</p>\n--1eeb-f1--\n"
    )
    mail = parse_mail(raw)
    assert mail.text == "Delivery has failed to these recipients."
    assert mail.attachments == ()
    assert "BoundaryRepaired" in mail.parse_defects


def test_declared_boundary_missing_from_the_body_is_recovered():
    raw = mixed(
        PLAIN,
        b'Content-Type: application/pdf; name="a.pdf"\nContent-Disposition: attachment; filename="a.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\n" + b64(b"%PDF-1.4"),
        boundary=b"real-one",
        headers=b'Content-Type: multipart/mixed; boundary="rewritten-by-gateway"\n',
    )
    mail = parse_mail(raw)
    assert mail.text == "W załączniku."
    assert [a.filename for a in mail.attachments] == ["a.pdf"]


def test_multipart_without_any_boundary_becomes_text():
    raw = b"Subject: x\nContent-Type: multipart/mixed\n\nJust some text, no parts at all.\n"
    mail = parse_mail(raw)
    assert mail.text == "Just some text, no parts at all."
    assert mail.attachments == ()
    assert "NoBoundaryInMultipartDefect" in mail.parse_defects


def test_utf8_text_labelled_latin1_is_read_as_utf8():
    raw = b"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n" + (
        "Zamówienie nr 12 – dziękuję".encode()
    )
    mail = parse_mail(raw)
    assert mail.text == "Zamówienie nr 12 – dziękuję"
    assert mail.charset_repairs == ("text/plain: iso-8859-1->utf-8",)


def test_utf8_text_with_a_latin1_footer_keeps_both():
    body = "Dzień dobry, proszę o zwrot.\n".encode() + "-- \nListe: Grüße aus Köln\n".encode("latin-1")
    raw = b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + body
    assert parse_mail(raw).text == "Dzień dobry, proszę o zwrot.\n-- \nListe: Grüße aus Köln"


@pytest.mark.parametrize(
    "disposition",
    [
        b"attachment; filename*=windows-1250''Zam%F3wienie%20%B3%B9ka.pdf",  # RFC 2231, Polish charset
        b"attachment; filename*=x-unknown''Zam%F3wienie%20%B3%B9ka.pdf",  # RFC 2231, useless charset
        'attachment; filename="Zamówienie łąka.pdf"'.encode("cp1250"),  # raw 8-bit (old Outlook)
        'attachment; filename="Zamówienie łąka.pdf"'.encode(),  # raw UTF-8 (RFC 6532 style)
        b"attachment; filename*0*=utf-8''Zam%C3%B3wienie%20; filename*1*=%C5%82%C4%85ka.pdf",
    ],
)
def test_filenames_in_every_encoding_clients_use(disposition):
    part = b"Content-Type: application/pdf\nContent-Disposition: " + disposition + b"\n\nJVBERi0=\n"
    assert [a.filename for a in parse_mail(mixed(PLAIN, part)).attachments] == ["Zamówienie łąka.pdf"]


def test_a_document_inside_multipart_related_without_content_id_is_a_real_attachment():
    related = (
        b'Content-Type: multipart/related; boundary="rel"\n\n'
        b"--rel\nContent-Type: text/html; charset=utf-8\n\n<p>Umowa w za&#322;&#261;czniku.</p>\n"
        b'--rel\nContent-Type: application/pdf; name="umowa.pdf"\nContent-Transfer-Encoding: base64\n\n'
        + b64(b"%PDF-1.4")
        + b"--rel--\n"
    )
    mail = parse_mail(mixed(related))
    assert [(a.filename, a.inline) for a in mail.attachments] == [("umowa.pdf", False)]
    assert mail.text == "Umowa w załączniku."


def test_uuencoded_block_with_a_damaged_line_still_parses():
    raw = b"Subject: uu\n\nbegin 644 a.bin\n#86)C\n\xc5\xbc\xff broken\nend\n"
    mail = parse_mail(raw)
    assert [(a.filename, a.payload) for a in mail.attachments] == [("a.bin", b"abc")]
    assert not any(d.startswith("Unparseable") for d in mail.parse_defects)


def test_8bit_content_id_does_not_break_parsing():
    part = b"Content-Type: image/png\nContent-ID: <logo\xc5\xbc@x>\nContent-Transfer-Encoding: base64\n\niVBORw0=\n"
    mail = parse_mail(mixed(PLAIN, part))
    assert mail.text == "W załączniku." and len(mail.attachments) == 1


def test_mutated_corpus_mail_never_reaches_the_last_resort(corpus):
    """Truncated, bit-flipped and spliced real mail: every message still parses part by part
    (no `Unparseable:` defect, which means an internal error threw the structure away)."""
    import random

    rng = random.Random(20261124)
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix not in {".json", ".md", ".mbox"})
    files += sorted((DATA / "smime").iterdir())
    failures = []
    for _ in range(1500):
        raw = bytearray(rng.choice(files).read_bytes())
        operation = rng.random()
        if operation < 0.4:
            raw = raw[: rng.randrange(len(raw) + 1)]
        elif operation < 0.8:
            for _ in range(rng.randint(1, 20)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        else:
            for _ in range(rng.randint(1, 5)):
                at, source = rng.randrange(len(raw)), rng.randrange(len(raw))
                raw[at:at] = raw[source : source + rng.randint(1, 200)]
        mail = parse_mail(bytes(raw))
        failures += [d for d in mail.parse_defects if d.startswith("Unparseable:")]
    assert failures == []


def test_a_structure_that_breaks_the_walk_keeps_headers_and_body(monkeypatch):
    from responer_ingest.domain import parsing

    real_leaf = parsing._leaf

    def leaf_failing_inside_multiparts(part, ctype, walk, body, parent):
        if parent:
            raise RuntimeError("walk failed")
        real_leaf(part, ctype, walk, body, parent)

    monkeypatch.setattr(parsing, "_leaf", leaf_failing_inside_multiparts)
    mail = parse_mail(mixed(PLAIN))
    assert (mail.subject, mail.from_email, mail.message_id) == ("test", "jan@example.pl", "m1@example.pl")
    assert "W załączniku." in mail.text and "--b1" in mail.text
    assert mail.parse_defects[0] == "Unparseable:RuntimeError: walk failed"
