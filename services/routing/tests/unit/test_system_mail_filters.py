"""Each filter of the sorting pipeline: what it recognises, and the near miss a person writes that it
must leave in the Inbox (precision first). Messages are real corpus files or small hand-written mail."""

from __future__ import annotations

import pytest
from responer_ingest.domain import parse_mail
from responer_routing.domain.system_mail import FILTERS, IncomingMail, SortingPolicy, classify
from responer_routing.domain.system_mail.auto_reply import detect_auto_reply
from responer_routing.domain.system_mail.delivery_report import detect_delivery_report
from responer_routing.domain.system_mail.esp_event import detect_esp_event
from responer_routing.domain.system_mail.feedback_report import detect_feedback_report
from responer_routing.domain.system_mail.list_bulk import detect_list_or_bulk
from responer_routing.domain.system_mail.loop import detect_loop
from responer_routing.domain.system_mail.noreply import detect_noreply_sender

pytestmark = pytest.mark.unit
POLICY = SortingPolicy(
    own_addresses=frozenset({"support@firma.pl"}),
    own_message_id_domains=frozenset({"responer.firma.pl"}),
    loop_markers=frozenset({"responer"}),
)


def facts(raw: bytes) -> IncomingMail:
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


def mail(
    headers: str, body: str = "Dzień dobry,\nproszę o pomoc.\n", html: str | None = None
) -> IncomingMail:
    head = headers.strip()
    if html is None:
        return facts((head + "\n\n" + body).encode())
    return facts(
        (
            head + '\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"\n\n'
            "--b\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n--b\n"
            "Content-Type: text/html; charset=utf-8\n\n" + html + "\n--b--\n"
        ).encode()
    )


def test_pipeline_order_is_specific_evidence_first():
    assert [name for name, _ in FILTERS] == [
        "loop",
        "esp_event",
        "feedback_report",
        "delivery_report",
        "auto_reply",
        "list_bulk",
        "noreply_sender",
    ]


# --- loop --------------------------------------------------------------------------------------


def test_loop_our_x_loop_message_id_and_address():
    assert detect_loop(mail("From: a@b.pl\nX-Loop: responer\nSubject: x"), POLICY).kind == "loop"
    assert detect_loop(mail("From: a@b.pl\nMessage-ID: <1.2@responer.firma.pl>"), POLICY).kind == "loop"
    assert detect_loop(mail("From: Support <support@firma.pl>\nSubject: x"), POLICY).kind == "loop"


def test_loop_near_miss_someone_elses_x_loop_and_our_domain_in_text():
    # A customer's own ticket system stamps its X-Loop; our domain quoted in the text is not ours either.
    customer = mail(
        "From: jan@klient.pl\nX-Loop: helpdesk@klient.pl\nMessage-ID: <a1@klient.pl>\nSubject: Zamówienie",
        "Piszę w sprawie maila z <1.2@responer.firma.pl>.",
    )
    assert detect_loop(customer, POLICY) is None
    assert not classify(customer, POLICY).system


# --- esp_event (SES through SNS) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "recipient", "status"),
    [
        ("lhost-amazonses-09.eml", "bounce", "bounce@simulator.amazonses.com", "5.1.1"),  # bare event
        ("lhost-amazonses-10.eml", "bounce", "bounce@simulator.amazonses.com", "5.1.1"),  # SNS envelope
        ("lhost-amazonses-11.eml", "feedback_report", None, None),
        ("lhost-amazonses-13.eml", "delivery_notification", "complaint@simulator.amazonses.com", "2.6.0"),
    ],
)
def test_ses_json_events(corpus, name, kind, recipient, status):
    verdict = classify(facts((corpus / "bounces" / "emails" / name).read_bytes()))
    assert (verdict.kind, verdict.bounce_recipient, verdict.bounce_status) == (kind, recipient, status)
    assert verdict.reason.startswith("esp_event:")


def test_ses_near_miss_customer_pasting_json_in_prose():
    customer = mail(
        "From: dev@klient.io\nSubject: Webhook problem",
        'Hi, your webhook sends {"notificationType":"Bounce"} for our orders, why?\n',
    )
    assert detect_esp_event(customer, POLICY) is None
    assert not classify(customer).system


# --- feedback_report ---------------------------------------------------------------------------


def test_arf_and_apple_opt_out(corpus):
    arf = classify(facts((corpus / "bounces" / "emails" / "arf-01.eml").read_bytes()))
    assert (arf.kind, arf.reason) == ("feedback_report", "feedback_report: feedback report (abuse)")
    apple = classify(facts((corpus / "bounces" / "emails" / "arf-26.eml").read_bytes()))
    assert apple.kind == "feedback_report" and "X-Apple-Unsubscribe" in apple.reason


def test_feedback_near_miss_customer_complaining():
    customer = mail("From: a@b.pl\nSubject: Complaint about message from your courier", "Kurier był niemiły.")
    assert detect_feedback_report(customer, POLICY) is None
    assert not classify(customer).system


# --- delivery_report ---------------------------------------------------------------------------


def test_list_manager_rejection_is_a_bounce(corpus):
    verdict = classify(facts((corpus / "bounces" / "emails" / "lhost-fml-02.eml").read_bytes()))
    assert verdict.kind == "bounce" and "mailing-list manager" in verdict.reason


def test_prose_bounce_from_daemon_with_empty_return_path():
    verdict = detect_delivery_report(
        mail(
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.pl>\nReturn-Path: <>\n"
            "Subject: Undelivered Mail Returned to Sender",
            "I'm sorry to have to inform you that your message could not be delivered.\n\n"
            "<jan.kowalski@example.com>: host mx.example.com said: 550 5.1.1 User unknown\n",
        ),
        POLICY,
    )
    assert verdict is not None and verdict.kind == "bounce"
    assert (verdict.bounce_recipient, verdict.bounce_status) == ("jan.kowalski@example.com", "5.1.1")


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        # A customer forwarding a bounce to ask about it.
        ("From: jan@klient.pl\nSubject: Fwd: Undelivered Mail Returned to Sender", "Co to znaczy?\n"),
        # "Rejected" in a customer's subject, from a role address, without any daemon evidence.
        (
            "From: admin@klient.pl\nSubject: Rejected parcel",
            "Your courier rejected my parcel. Not a member?\n",
        ),
        # A postmaster is sometimes a person: the daemon's name alone is not a bounce.
        (
            "From: Postmaster <postmaster@isp-klienta.pl>\nSubject: Pytanie o Państwa serwer",
            "Dzień dobry, czy możecie sprawdzić rekord SPF domeny? Pozdrawiam, Adam\n",
        ),
        # A list-like header alone does not make a person's "my message was rejected" a bounce.
        (
            "From: jan-admin@klient.pl\nSubject: My post was rejected",
            "Why was my message rejected by your shop form?\n",
        ),
    ],
)
def test_delivery_report_near_misses(headers, body):
    customer = mail(headers, body)
    assert detect_delivery_report(customer, POLICY) is None
    assert not classify(customer).system


# --- auto_reply --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (
            "From: Beata <beata@onet.pl>\nSubject: Urlop do 10.01.2026\nIn-Reply-To: <a@firma.pl>",
            "Dzień dobry,\n\ndziękuję za wiadomość. Jestem na urlopie do 10.01.2026. W pilnych\n"
            "sprawach proszę dzwonić pod numer +48 600 100 200.\n\nPozdrawiam\nBeata",
        ),
        (
            "From: t.wilk@firma-klienta.pl\nSubject: Odp: Faktura FV/1/2026",
            "Jestem poza biurem do 15.01.2026 i mam ograniczony dostęp do poczty. Odpowiem po powrocie.\n",
        ),
        (
            "From: jessica@yahoo.com\nSubject: Re: Your invoice\nIn-Reply-To: <a@firma.pl>",
            "I'm currently on holiday and will be back on 23 January. I will reply when I return.\n",
        ),
        (
            "From: mark@example.co.uk\nSubject: Re: order 55",
            "Thank you for your email. I am out of the office until 12/01 with limited access to email.\n",
        ),
        (
            "From: ola@firma-klienta.pl\nSubject: Odp: Oferta",
            "Do 15.01.2026 przebywam na urlopie. W sprawach pilnych proszę dzwonić do biura.\n",
        ),
        (
            "From: sam@example.com\nSubject: Re: Quote",
            "I'm on annual leave until Monday 13th. If it is urgent, call the office.\n",
        ),
    ],
)
def test_auto_reply_recognised_by_its_words_alone(headers, body):
    verdict = detect_auto_reply(mail(headers, body), POLICY)
    assert verdict is not None and verdict.kind == "auto_reply", body


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ("From: a@b.pl\nSubject: Out of office hours?", "Do you answer the phone out of office hours?\n"),
        ("From: a@b.pl\nSubject: Delivery", "I am on vacation, please deliver later.\n"),
        (
            "From: a@b.pl\nSubject: Dostawa",
            "Jestem na urlopie do 20.01, czy możecie wysłać paczkę później?\n",
        ),
        (
            "From: a@b.pl\nSubject: Order 12",
            "I'm on holiday until 20 January, please deliver the parcel to my neighbour at no. 5.\n",
        ),
        # A forward of someone's out-of-office notice is a person's message.
        (
            "From: a@b.pl\nSubject: Fwd: Out of office",
            "See below.\n\nI am out of the office until 12/01. I will reply when I return.\n",
        ),
    ],
)
def test_auto_reply_near_misses_stay_in_inbox(headers, body):
    customer = mail(headers, body)
    assert detect_auto_reply(customer, POLICY) is None
    assert not classify(customer).system


def test_auto_reply_notice_quoted_in_a_customer_reply_does_not_count():
    customer = mail(
        "From: a@b.pl\nSubject: Re: Urlop do 10.01\nIn-Reply-To: <x@firma.pl>",
        "Rozumiem, ale paczka nie dotarła. Proszę o sprawdzenie.\n\n"
        "W dniu 5.01.2026 Anna napisała:\n> Jestem na urlopie do 10.01.2026. Odpowiem po powrocie.\n",
    )
    assert not classify(customer).system


# --- list_bulk ---------------------------------------------------------------------------------


def test_bulk_kinds():
    newsletter = mail("From: news@shop.pl\nSubject: Promocja\nList-Unsubscribe: <mailto:u@shop.pl>")
    assert detect_list_or_bulk(newsletter, POLICY).kind == "newsletter"
    assert (
        detect_list_or_bulk(mail("From: l@lists.pl\nSubject: [l] x\nPrecedence: list"), POLICY).kind
        == "newsletter"
    )
    transactional = mail("From: no-reply@kurier.pl\nSubject: Przesyłka doręczona\nPrecedence: bulk")
    assert detect_list_or_bulk(transactional, POLICY).kind == "notification"


def test_bulk_near_miss_our_own_group_list():
    grouped = mail("From: klient@b.pl\nSubject: Pomoc\nList-Id: <support.firma.pl>", "Dzień dobry")
    assert detect_list_or_bulk(grouped, POLICY) is None
    assert not classify(grouped, POLICY).system


# --- noreply_sender ----------------------------------------------------------------------------

_TEMPLATE = (
    '<table width="100%" cellpadding="0" cellspacing="0" role="presentation"><tr><td>{}</td></tr></table>'
)


@pytest.mark.parametrize(
    "sender",
    [
        "billing-noreply@cloudhost.io",
        "powiadomienia@payflow.pl",
        "nie-odpowiadaj@bank.pl",
        "do_not_reply@x.com",
    ],
)
def test_no_reply_senders(sender):
    verdict = detect_noreply_sender(mail(f"From: {sender}\nSubject: Potwierdzenie płatności"), POLICY)
    assert verdict is not None and verdict.kind == "notification"


def test_two_weak_hints_make_a_notification():
    # An e-invoicing sender alone could be a monitored mailbox; with a template layout it is a system.
    body = "Dzień dobry,\nw systemie jest nowa faktura kosztowa FV/1/2026.\nFaktura w załączniku."
    verdict = classify(mail("From: e-faktury@biuro.pl\nSubject: Nowa faktura", body, _TEMPLATE.format(body)))
    assert (
        verdict.kind == "notification" and "template" in verdict.reason and "system sender" in verdict.reason
    )
    suppressed = mail(
        "From: portal@ubezpieczyciel.pl\nSubject: Zmiana statusu szkody\nX-Auto-Response-Suppress: All",
        "Nowy status: w likwidacji",
        _TEMPLATE.format("Nowy status: w likwidacji"),
    )
    assert classify(suppressed).kind == "notification"


@pytest.mark.parametrize(
    ("headers", "body", "html"),
    [
        # A person answering from a no-reply-looking address, in a real reply chain.
        (
            "From: noreply.jan@klient.pl\nSubject: Re: Zamówienie 123\nIn-Reply-To: <o1@firma.pl>\n"
            "References: <o1@firma.pl>",
            "Dziękuję, ale paczka nadal nie dotarła.\n\n> Paczka została wysłana.\n",
            None,
        ),
        # One weak hint only: Outlook mail with X-Auto-Response-Suppress.
        (
            "From: anna@klient.pl\nSubject: Pytanie\nX-Auto-Response-Suppress: All",
            "Czy mogę zwrócić towar?",
            None,
        ),
        # One weak hint only: a signature built with a presentation table.
        (
            "From: anna@klient.pl\nSubject: Oferta",
            "Proszę o ofertę.",
            _TEMPLATE.format("Anna, Klient sp. z o.o."),
        ),
        # Two hints, but a reply in a conversation: weak hints never outweigh it.
        (
            "From: portal@klient.pl\nSubject: Re: Oferta\nIn-Reply-To: <o2@firma.pl>\nX-Auto-Response-Suppress: All",
            "Akceptujemy ofertę.",
            None,
        ),
        # A list relayed through SES: the provider's header and Message-ID are one hint, not two.
        (
            "From: jan@klient.pl\nSubject: Problem\nX-SES-Outgoing: 2024.01.01-1.2.3.4\n"
            "Message-ID: <0100018a-1234@email.amazonses.com>",
            "Nie działa logowanie.",
            None,
        ),
    ],
)
def test_noreply_near_misses_stay_in_inbox(headers, body, html):
    customer = mail(headers, body, html)
    assert detect_noreply_sender(customer, POLICY) is None
    assert not classify(customer).system


@pytest.mark.parametrize(
    "headers",
    [
        # A shop's contact form: sent from no-reply, the customer in Reply-To.
        "From: Sklep <no-reply@sklep-klienta.pl>\nReply-To: Jan Kowalski <jan.kowalski@gmail.com>\n"
        "Subject: Nowa wiadomość z formularza kontaktowego",
        # The same with the RFC 3834 header some form plugins add.
        "From: formularz@firma-www.pl\nReply-To: anna@onet.pl\nAuto-Submitted: auto-generated\n"
        "Subject: Zapytanie ze strony",
        # WordPress + PHPMailer (whose X-Mailer names github.com): not two notification hints.
        "From: WordPress <wordpress@sklep-klienta.pl>\nX-Mailer: PHPMailer 6.9.1 (https://github.com/PHPMailer/PHPMailer)\n"
        "Subject: Formularz kontaktowy",
    ],
)
def test_contact_forms_relaying_a_customer_stay_in_inbox(headers):
    customer = mail(headers, "Imię: Jan\nWiadomość: Czy produkt 123 jest dostępny w kolorze czarnym?\n")
    assert not classify(customer).system, classify(customer).reason


def test_reply_to_on_the_senders_own_site_does_not_save_a_notification():
    verdict = classify(
        mail("From: no-reply@bank.pl\nReply-To: kontakt@bank.pl\nSubject: Wyciąg", "Wyciąg za styczeń.")
    )
    assert verdict.kind == "notification"


def test_every_filter_consulted_leaves_its_word_in_the_trace(monkeypatch):
    verdict = classify(mail("From: no-reply@bank.pl\nSubject: Wyciąg"))
    assert [name for name, _ in verdict.trace] == [name for name, _ in FILTERS]
    assert all(word == "abstained" for _, word in verdict.trace[:-1])
    assert verdict.trace[-1] == ("noreply_sender", "notification: no-reply sender no-reply@bank.pl")
    # A filter that raises abstains (and says so); the mail is still sorted by the rest.
    from responer_routing.domain.system_mail import pipeline

    def broken(mail, policy):
        raise ValueError("boom")

    monkeypatch.setattr(pipeline, "FILTERS", (("broken", broken), *pipeline.FILTERS))
    verdict = pipeline.classify(mail("From: a@b.pl\nSubject: Pytanie"))
    assert not verdict.system and verdict.trace[0] == ("broken", "error: ValueError: boom")
    assert len(verdict.trace) == len(FILTERS) + 1


@pytest.mark.parametrize(
    ("subject", "body", "system"),
    [
        ("Auto: Skoda Octavia 2015", "Czy ta uszczelka pasuje do mojego auta?", False),
        (
            "Nieobecność – dostawa",
            "Nie będzie mnie w domu we wtorek, czy kurier może przyjść w środę?",
            False,
        ),
        ("Out of office", "Please deliver on Monday instead, is that possible?", False),
        ("Auto: Zamówienie 123", "Dziękuję za wiadomość. Odpowiem wkrótce.", True),
        ("Nieobecność", "Dziękuję za wiadomość, odpiszę po powrocie.", True),
        ("Automatic reply: Order 5", "Is anyone there?", True),  # a machine's words, whatever follows
    ],
)
def test_ambiguous_out_of_office_subjects_need_a_text_that_asks_nothing(subject, body, system):
    verdict = classify(mail(f"From: a@b.pl\nSubject: {subject}", body))
    assert verdict.system is system, verdict.reason


def test_polish_prose_bounce_with_the_original_attached():
    raw = (
        "From: Administrator poczty <poczta@serwer.example.pl>\nReturn-Path: <>\n"
        "Subject: Niedostarczona wiadomość\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain; charset=utf-8\n\n"
        "Wiadomość nie mogła zostać dostarczona do adresata:\n\n  jan.nowak@example.pl\n\n"
        "Serwer odpowiedział: 550 5.1.1 Nie ma takiego użytkownika\n"
        "--b\nContent-Type: message/rfc822\n\nFrom: sklep@firma.pl\nTo: jan.nowak@example.pl\nSubject: Zamówienie\n\n"
        "Dziękujemy.\n--b--\n"
    )
    verdict = classify(facts(raw.encode()))
    assert (verdict.kind, verdict.bounce_recipient, verdict.bounce_status) == (
        "bounce",
        "jan.nowak@example.pl",
        "5.1.1",
    )


def test_a_robotics_shop_writing_from_robot_at_is_a_customer():
    customer = mail(
        "From: Robot <robot@robotyka-sklep.pl>\nSubject: Zamówienie hurtowe", "Prosimy o ofertę na 50 szt."
    )
    assert not classify(customer).system


def test_outlook_mail_with_a_table_signature_and_a_tracking_pixel_is_a_customer():
    # X-Auto-Response-Suppress (Outlook) + a signature generator's presentation table + a sales
    # tracker's pixel: three accidents of a person's mail, not two notification hints.
    html = (
        _TEMPLATE.format("Anna Nowak | Klient sp. z o.o.")
        + '<img src="https://t.example/p.gif" width="1" height="1">'
    )
    customer = mail(
        "From: anna.nowak@klient.pl\nSubject: Zamówienie 4411\nX-Auto-Response-Suppress: All",
        "Proszę o potwierdzenie terminu dostawy.",
        html,
    )
    assert not classify(customer).system, classify(customer).reason


def test_ses_delivery_delay_event_is_a_soft_bounce():
    event = (
        '{"eventType":"DeliveryDelay","mail":{"messageId":"x"},"deliveryDelay":{"delayType":"MailboxFull",'
        '"delayedRecipients":[{"emailAddress":"Jan@Example.com","status":"4.2.2","diagnosticCode":"452"}]}}'
    )
    verdict = classify(mail("From: no-reply@sns.amazonaws.com\nSubject: AWS Notification Message", event))
    assert (verdict.kind, verdict.bounce_recipient, verdict.bounce_status) == (
        "bounce",
        "jan@example.com",
        "4.2.2",
    )
