from __future__ import annotations

import json
import re
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
        html=mail.html,
    )


def mail(headers: str, body: str = "Hello,\nplease help.\n") -> IncomingMail:
    return facts((headers.strip() + "\n\n" + body).encode())


def test_labelled_bounce_corpus_kinds(corpus):
    """Every labelled bounce, auto-reply, feedback report and delivery notification is system mail
    of the right kind, and the one ordinary message stays a customer's."""
    items = json.loads((corpus / "bounces" / "index.json").read_text())["items"]
    right, system, wrong = 0, 0, Counter()
    for item in items:
        verdict = classify(facts((corpus / "bounces" / item["file"]).read_bytes()))
        expected = EXPECTED_KIND[item["class"]]
        right += verdict.kind == expected
        system += verdict.system == (expected is not None)
        assert verdict.folder == ("System" if expected else "Inbox")
        if verdict.kind != expected:
            wrong[(item["file"], item["class"], verdict.kind)] += 1
    print(
        f"bounce corpus: kind {right}/{len(items)}, system flag {system}/{len(items)}; misses {dict(wrong)}"
    )
    assert not wrong
    assert system == len(items) == 357


# (file, failed recipient as the bytes say it, status as sisimai labels it and the bytes contain it):
# one or two per kind of MTA or provider, machine-readable reports and prose alike.
ENGINE_SAMPLES = [
    ("lhost-postfix-05.eml", "kijitora@example.org", "4.1.1"),
    ("lhost-sendmail-01.eml", "userunknown@bouncehammer.jp", "5.1.1"),
    ("lhost-exim-01.eml", "kijitora@example.ed.jp", "5.7.0"),  # X-Failed-Recipients, prose
    ("lhost-qmail-03.eml", "kijitora@example.org", "5.7.1"),  # prose only
    ("lhost-courier-01.eml", "kijitora@example.co.jp", "5.1.1"),
    ("lhost-exchange2007-02.eml", "kijitora@example.edu", "5.2.2"),
    ("lhost-office365-04.eml", "otsu-sakaba-hunter-neko-nyaaaaaaan@ezweb.ne.jp", "5.1.351"),
    ("lhost-gmail-01.eml", "userunknown@example.jp", "5.1.1"),
    ("lhost-yahoo-01.eml", "kijitora@example.org", "5.1.1"),
    ("lhost-gmx-01.eml", "shironeko@example.jp", "5.2.2"),
    ("lhost-amazonses-05.eml", "bounce@simulator.amazonses.com", "5.1.1"),
    ("lhost-amazonses-09.eml", "bounce@simulator.amazonses.com", "5.1.1"),  # JSON via SNS
    ("lhost-sendgrid-01.eml", "kijitora@example.jp", "5.1.1"),
    ("lhost-opensmtpd-11.eml", "authfailure@libsisimai.net", "5.7.26"),  # Status 5.0.0, code in the prose
    ("lhost-postfix-44.eml", "kijitora@example.jp", "5.7.1"),  # code on a folded Diagnostic-Code line
    ("lhost-messagingserver-03.eml", "sabineko@example.org", "5.7.1"),  # not the quoted Message-ID
    ("lhost-postfix-32.eml", '"neko....nyaan...."@libsisimai.org', "5.1.1"),  # quoted local part
    ("lhost-sendmail-15.eml", "kijitora@example.org", "5.1.2"),  # broken Final-Recipient: from the prose
    ("rhost-microsoft-01.eml", "kijitora@example.com", "5.7.606"),
    ("rhost-google-01.eml", "shironeko@example.ne.jp", "5.2.1"),
]


@pytest.mark.parametrize(("name", "recipient", "status"), ENGINE_SAMPLES)
def test_bounce_recipient_and_status_per_engine(corpus, name, recipient, status):
    raw = (corpus / "bounces" / "emails" / name).read_bytes()
    label = next(
        i
        for i in json.loads((corpus / "bounces" / "index.json").read_text())["items"]
        if i["file"].endswith(name)
    )
    assert label["recipients"][0]["deliverystatus"] == status and status.encode() in raw
    assert recipient.encode() in raw.lower()
    verdict = classify(facts(raw))
    assert (verdict.kind, verdict.bounce_recipient, verdict.bounce_status) == ("bounce", recipient, status)


def test_almost_every_labelled_bounce_names_a_failed_recipient_written_in_it(corpus):
    items = json.loads((corpus / "bounces" / "index.json").read_text())["items"]
    named = total = 0
    for item in items:
        if item["class"] != "bounce":
            continue
        raw = (corpus / "bounces" / item["file"]).read_bytes()
        recipient = classify(facts(raw)).bounce_recipient
        total += 1
        named += bool(recipient)
        assert recipient is None or recipient.encode() in raw.lower(), (item["file"], recipient)
    print(f"bounce recipients: {named}/{total} named, all of them written in the message")
    assert named / total >= 0.98


def test_status_codes_match_sisimai_where_the_bytes_carry_them(corpus):
    """Of the labelled bounces whose status code is written in the message, nearly all are extracted;
    the rest are reports with two codes where sisimai prefers the other one."""
    items = json.loads((corpus / "bounces" / "index.json").read_text())["items"]
    present = same = 0
    for item in items:
        status = item["recipients"][0]["deliverystatus"] if item["recipients"] else ""
        raw = (corpus / "bounces" / item["file"]).read_bytes()
        if item["class"] != "bounce" or not status or status.encode() not in raw:
            continue
        present += 1
        same += classify(facts(raw)).bounce_status == status
    print(f"bounce status codes: {same}/{present} as sisimai where the bytes contain the code")
    assert present >= 250 and same / present >= 0.95


def test_human_list_mail_without_its_list_headers_is_customer_mail(corpus):
    """Real people's mail (a mailing list's archive) with every list header removed: nothing in what a
    person writes may look like system mail (e.g. the list's SES relay headers, replies, signatures)."""
    data = (corpus / "mbox" / "usrp-users.mbox").read_bytes()
    messages = [m for m in re.split(rb"\n(?=From [^\n]*\n)", data) if m.strip()]
    hidden = []
    for message in messages:
        raw = message.split(b"\n", 1)[1] if message.startswith(b"From ") else message
        head, sep, body = raw.partition(b"\n\n")
        verdict = classify(facts(_LIST_HEADERS.sub(b"", head + b"\n")[:-1] + sep + body))
        if verdict.system:
            hidden.append(verdict.reason)
    print(f"usrp-users without list headers: {len(hidden)}/{len(messages)} classified as system")
    assert len(messages) > 2600
    assert hidden == []


_LIST_HEADERS = re.compile(
    rb"^(List-[\w-]+|Precedence|X-Mailman-[\w-]+|Mailing-List|X-BeenThere|Errors-To|Sender|X-Loop):.*(\r?\n[ \t].*)*\r?\n",
    re.I | re.M,
)


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
