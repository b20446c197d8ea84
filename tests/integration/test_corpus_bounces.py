"""Bounces of ../shared/corpus/bounces through `responer import --dry-run`: subject, sender and failed
recipient as the report shows them, for the formats whose MIME is the hardest to read (split
ISO-2022-JP words, EUC-JP labelled ISO-2022-JP, an unfolded boundary line, 8-bit UTF-8 headers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from responer_cli.import_cmd import dry_run, iter_sources

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

# file: (subject, from_name, from, failed recipient, status), each read off the file's bytes.
EXPECTED = {
    # Subject: two =?iso-2022-jp?B?...?= words split inside a JIS escape sequence
    "lhost-exchange2007-04": (
        "Undeliverable: キジトラ・フラッシュ/ニャーン",
        "",
        "postmaster@example.jp",
        "neko-nyaan@example.jp",
        "5.7.1",
    ),
    "lhost-office365-12": (
        "Undeliverable: ネコニャーン",
        "Microsoft Outlook",
        "postmaster@outlook.com",
        "kijitora@cr.neko.nyaan.jp",
        "5.2.2",
    ),
    # multipart/alternative whose `boundary=` line is not folded: the text is only found by re-splitting
    "lhost-office365-09": (
        "Undeliverable: Nyaan",
        "Microsoft Outlook",
        "postmaster@outlook.com",
        "azumakuniyuki@example.ne.jp",
        "5.1.351",
    ),
    "lhost-mailru-04": (
        "Ваше сообщение не доставлено. Mail failure.",
        "",
        "mailer-daemon@corp.mail.ru",
        "kijitora@example.jp",
        "5.1.1",
    ),
    "lhost-exchange2007-06": (
        "Non remis : Votre deuxième paire de chaussures à 5 euros",
        "",
        "postmaster@ville-saumur.fr",
        "transports@agglo-saumur.fr",
        "5.1.1",
    ),
    # raw 8-bit UTF-8 Subject; body labelled iso-2022-jp but UTF-8
    "lhost-kddi-01": (
        "メールエラー通知",
        "",
        "no-reply@x0000000000000.dion.ne.jp",
        "kijitora@x0000000000000.dion.ne.jp",
        None,
    ),
    # body labelled iso-2022-jp, written in EUC-JP
    "lhost-ezweb-02": (
        "Mail System Error - Returned Mail",
        "Mail Administrator",
        "postmaster@ezweb.ne.jp",
        "this-local-part-does-not-exist-on-the-server@ezweb.ne.jp",
        "5.0.0",
    ),
    "lhost-exim-01": (
        "Mail delivery failed: returning message to sender",
        "Mail Delivery System",
        "mailer-daemon@e1.example.org",
        "kijitora@example.ed.jp",
        "5.7.0",
    ),
    "lhost-gmail-01": (
        "Delivery Status Notification (Failure)",
        "Mail Delivery Subsystem",
        "mailer-daemon@googlemail.com",
        "userunknown@example.jp",
        "5.1.1",
    ),
    "lhost-sendmail-01": (
        "Returned mail: see transcript for details",
        "Mail Delivery Subsystem",
        "mailer-daemon@smtpgw.example.jp",
        "userunknown@bouncehammer.jp",
        "5.1.1",
    ),
    "rfc3464-34": (
        "Delayed Mail (still being retried)",
        "Mail Delivery System",
        "mailer-daemon@neko.example.org",
        "kijitora@example.com",
        "4.4.1",
    ),
}


@pytest.fixture(scope="module")
def report():
    folder = CORPUS / "bounces" / "emails"
    if not folder.is_dir():
        pytest.skip(f"real-mail corpus not found at {CORPUS} (expected ../shared/corpus beside the repo)")
    lines = dry_run(iter_sources([str(folder)]), tenant="t", mailbox="m")
    return {Path(line["source"]).stem: line for line in lines}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bounce_subject_sender_and_failed_recipient(report, name):
    line = report[name]
    subject, from_name, sender, recipient, status = EXPECTED[name]
    assert (line["subject"], line["from_name"], line["from"]) == (subject, from_name, sender)
    assert (line["bounce_recipient"], line["bounce_status"]) == (recipient, status)
    assert line["system_kind"] == "bounce"
    assert recipient in line["text"]  # the human-readable part names whom it failed for


def test_japanese_bounce_texts_are_decoded(report):
    assert report["lhost-ezweb-02"]["text"].startswith(
        "次のあて先へのメッセージはエラーのため送信できませんでした。"
    )
    assert report["lhost-kddi-01"]["text"].startswith(
        "送信先のメールボックスが一杯のため、送信できませんでした。"
    )
    assert "text/plain: iso-2022-jp->euc_jp" in report["lhost-ezweb-02"]["charset_repairs"]


def test_returned_original_is_listed_with_its_decoded_subject(report):
    # The returned message's Subject is =?ISO-2022-JP?B?...?=: バウンスメールのテスト(日本語)
    assert report["lhost-sendmail-01"]["attachments"] == ["バウンスメールのテスト(日本語).eml"]


def test_feedback_report_shows_the_reported_message(report):
    line = report["arf-22"]  # multipart/mixed holding only an inline message/rfc822
    assert line["system_kind"] == "feedback_report"
    assert line["text"] == (
        "-------- Attached message --------\nFrom: Neko <sironeko@example.com>\nSubject: Nyaan\n\nNyaan"
    )


def test_every_bounce_file_is_in_the_report_without_errors(report):
    files = list((CORPUS / "bounces" / "emails").iterdir())
    assert len(report) == len(files) == 357
    assert [name for name, line in report.items() if "error" in line] == []
