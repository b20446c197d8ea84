from __future__ import annotations

import json
from collections import Counter

import pytest
from responer_ingest.domain import parse_mail
from responer_routing.domain.system_mail import IncomingMail, SortingPolicy, classify

pytestmark = pytest.mark.unit

EXPECTED_KIND = {
    "bounce": "bounce",
    "feedback-report": "feedback_report",
    "auto-reply": "auto_reply",
    "delivery-notification": "delivery_notification",
    "normal": None,
}


def facts(raw: bytes) -> IncomingMail:
    """The same mapping the CLI and the routing service do from ingest's ParsedMail."""
    mail = parse_mail(raw)
    return IncomingMail(
        headers=mail.headers,
        part_types=mail.part_types,
        from_email=mail.from_email,
        from_name=mail.from_name,
        subject=mail.subject,
        text=mail.text,
        message_id=mail.message_id,
        report_parts=mail.report_parts,
    )


def mail(headers: str, body: str = "Hello,\nplease help.\n") -> IncomingMail:
    return facts((headers.strip() + "\n\n" + body).encode())


def test_labelled_bounce_corpus_kinds(corpus):
    items = json.loads((corpus / "bounces" / "index.json").read_text())["items"]
    right, system, wrong = 0, 0, Counter()
    for item in items:
        verdict = classify(facts((corpus / "bounces" / item["file"]).read_bytes()))
        expected = EXPECTED_KIND[item["class"]]
        right += verdict.kind == expected
        system += verdict.system == (expected is not None)
        if verdict.kind != expected:
            wrong[(item["class"], verdict.kind)] += 1
    print(
        f"bounce corpus: kind {right}/{len(items)}, system flag {system}/{len(items)}; misses {dict(wrong)}"
    )
    assert right / len(items) >= 0.98
    assert system / len(items) >= 0.995


def test_bounce_status_and_recipient_from_dsn(corpus):
    verdict = classify(facts((corpus / "rt-emails" / "emails" / "multipart-report").read_bytes()))
    assert (verdict.system, verdict.kind, verdict.folder) == (True, "bounce", "System")
    assert verdict.bounce_status and verdict.bounce_status.startswith("5.")
    assert verdict.bounce_recipient and "@" in verdict.bounce_recipient


def test_sendmail_bounce_recipient_and_status(corpus):
    verdict = classify(facts((corpus / "bounces" / "emails" / "lhost-sendmail-01.eml").read_bytes()))
    assert verdict.kind == "bounce"
    assert verdict.bounce_status == "5.1.1"
    assert verdict.bounce_recipient == "userunknown@bouncehammer.jp"


def test_not_a_bounce_stays_in_inbox(corpus):
    verdict = classify(facts((corpus / "bounces" / "emails" / "is-not-bounce-02.eml").read_bytes()))
    assert not verdict.system and verdict.folder == "Inbox"


def test_rt_autoreply_in_notmuch_corpus(corpus):
    path = next((corpus / "notmuch" / "corpora" / "threading" / "ghost-root").rglob("*"))
    found = [classify(facts(p.read_bytes())) for p in path.parent.rglob("*") if p.is_file()]
    assert any(v.kind == "auto_reply" for v in found)


def test_customer_forwarding_a_bounce_is_not_system():
    verdict = classify(
        mail("From: Jan Kowalski <jan@klient.pl>\nSubject: Fwd: Undelivered Mail Returned to Sender")
    )
    assert not verdict.system


def test_customer_asking_about_office_hours_is_not_auto_reply():
    assert not classify(mail("From: a@b.pl\nSubject: Out of office hours support?")).system


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("From: a@b.pl\nSubject: Re: order\nAuto-Submitted: auto-replied", "auto_reply"),
        ("From: a@b.pl\nSubject: Odpowiedź automatyczna: Zamówienie 12", "auto_reply"),
        ("From: a@b.pl\nSubject: Automatic reply: order", "auto_reply"),
        ("From: a@b.pl\nSubject: Nieobecność w biurze", "auto_reply"),
        ("From: a@b.pl\nSubject: Re: x\nX-Autoreply: yes", "auto_reply"),
        ("From: a@b.pl\nSubject: build\nAuto-Submitted: auto-generated", "notification"),
        ("From: news@shop.pl\nSubject: Promocja\nList-Unsubscribe: <mailto:u@shop.pl>", "newsletter"),
        ("From: x@lists.pl\nSubject: [list] hi\nPrecedence: bulk", "newsletter"),
        ("From: no-reply@bank.pl\nSubject: Wyciąg", "notification"),
        ("From: notifications@github.com\nSubject: PR merged", "notification"),
        ("From: MAILER-DAEMON <>\nSubject: Mail delivery failed\nReturn-Path: <>", "bounce"),
    ],
)
def test_header_signals(headers, kind):
    verdict = classify(mail(headers))
    assert (verdict.system, verdict.kind) == (True, kind), verdict.reason
    assert verdict.reason


def test_own_mail_loop_and_own_group_list_id():
    policy = SortingPolicy(
        own_addresses=frozenset({"support@firma.pl"}),
        own_message_id_domains=frozenset({"responer.firma.pl"}),
        loop_markers=frozenset({"responer"}),
    )
    assert classify(mail("From: a@b.pl\nX-Loop: responer\nSubject: x"), policy).kind == "loop"
    assert classify(mail("From: a@b.pl\nMessage-ID: <1@responer.firma.pl>"), policy).kind == "loop"
    # support@ as a Google Group: its List-Id is on every customer mail and must not hide it.
    grouped = mail("From: klient@b.pl\nSubject: Pomoc\nList-Id: <support.firma.pl>", "Dzień dobry")
    assert not classify(grouped, policy).system


def test_plain_customer_mail_is_inbox():
    verdict = classify(mail("From: Anna <anna@example.com>\nSubject: Reklamacja zamówienia 1234"))
    assert verdict == verdict.customer()
