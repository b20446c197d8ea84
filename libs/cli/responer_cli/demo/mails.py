"""A few dozen support mails for the demo mailbox, built with the standard `email` package.

What a support team really receives, so that the demo shows threading and sorting at work:
- customer questions in Polish (utf-8, and some in iso-8859-2 as older Outlook and Thunderbird setups
  still send) and English: orders, returns, invoices, damaged deliveries;
- follow-ups that thread by In-Reply-To/References (replying to our earlier answers, which are not in
  the inbox: the thread must join through an id it has not seen), and one Outlook-style "Odp:" follow-up
  with no threading headers at all (subject fallback);
- system mail: a delivery-status bounce (multipart/report), an out-of-office auto-reply
  (Auto-Submitted), a newsletter (List-Unsubscribe, List-Id) and a no-reply notification;
- a complaint with a PDF invoice attached.

Deterministic: the same bytes on every call (fixed dates, ids derived from a seeded generator).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr

from responer_cli.demo.pdf import tiny_pdf

DEMO_DOMAIN = "demo.responer.test"
DEMO_ADDRESS = f"support@{DEMO_DOMAIN}"
DEMO_NAME = "Sklep Demo — Obsługa Klienta"
START = datetime(2026, 11, 16, 8, 12, tzinfo=timezone(timedelta(hours=1)))


@dataclass
class _Ctx:
    rng: random.Random
    clock: datetime = START
    out: list[bytes] = field(default_factory=list)

    def tick(self, minutes: tuple[int, int] = (7, 95)) -> datetime:
        self.clock += timedelta(minutes=self.rng.randint(*minutes))
        if self.clock.hour >= 19:  # people write in the daytime: continue next morning
            self.clock = (self.clock + timedelta(days=1)).replace(hour=7, minute=self.rng.randint(30, 59))
        return self.clock

    def msgid(self, domain: str) -> str:
        return f"<{self.rng.getrandbits(64):016x}.{self.rng.randint(1000, 9999)}@{domain}>"


@dataclass(frozen=True)
class _Person:
    name: str
    email: str
    lang: str  # "pl" or "en"
    charset: str = "utf-8"

    @property
    def domain(self) -> str:
        return self.email.split("@", 1)[1]


PEOPLE = [
    _Person("Agnieszka Wójcik", "agnieszka.wojcik@poczta.example", "pl"),
    _Person("Paweł Zieliński", "pawel.zielinski@firma-budowlana.example", "pl", "iso-8859-2"),
    _Person("Małgorzata Dąbrowska", "m.dabrowska@skrzynka.example", "pl"),
    _Person("Łukasz Szymański", "lukasz.szymanski@example.com", "pl", "iso-8859-2"),
    _Person("Zofia Kaczmarek-Żak", "zofia.zak@poczta.example", "pl"),
    _Person("Grzegorz Jabłoński", "g.jablonski@biuro-rachunkowe.example", "pl"),
    _Person("Emily Carter", "emily.carter@example.com", "en"),
    _Person("James O'Neill", "james.oneill@example.net", "en"),
    _Person("Priya Natarajan", "priya@natarajan-design.example", "en"),
    _Person("Tomasz Nowak", "tomasz.nowak@example.org", "pl"),
]

AGENTS = {"pl": "Katarzyna z działu obsługi klienta", "en": "Katarzyna, Customer Care"}


# --- conversations: (subject, first message, agent reply, customer follow-up or None) ----------------
PL_THREADS = [
    (
        "Zamówienie nr 4411 — kiedy wysyłka?",
        "Dzień dobry,\n\nzłożyłam zamówienie nr 4411 w piątek i nadal ma status „w realizacji”. "
        "Czy mogę prosić o informację, kiedy paczka zostanie nadana? Potrzebuję jej przed środą.\n\n"
        "Pozdrawiam serdecznie\nAgnieszka Wójcik",
        "Dzień dobry Pani Agnieszko,\n\nzamówienie 4411 zostanie nadane dziś do 16:00, kurier doręczy je "
        "jutro. Numer przesyłki prześlemy osobnym mailem.",
        "Bardzo dziękuję! Czy paczkę można odebrać w paczkomacie zamiast pod domem?\n\nAgnieszka",
    ),
    (
        "Zwrot towaru — wiertarka udarowa",
        "Dzień dobry,\n\nchciałbym zwrócić wiertarkę udarową z zamówienia 4398 (nie pasuje do naszych "
        "wierteł). Jak mam przygotować zwrot? Czy koszt przesyłki zwrotnej pokrywa sklep?\n\n"
        "Z poważaniem\nPaweł Zieliński\nFirma Budowlana Zieliński",
        "Dzień dobry,\n\nw załączniku link do formularza zwrotu. Przesyłka zwrotna jest bezpłatna, "
        "wystarczy nadać paczkę z etykietą z formularza.",
        "Paczka nadana dziś rano, numer nadania 6234 1187 2200. Proszę o potwierdzenie, "
        "gdy dotrze, i o zwrot należności na konto firmowe.\n\nPaweł Zieliński",
    ),
    (
        "Faktura VAT do zamówienia 4420",
        "Dzień dobry,\n\nproszę o wystawienie faktury VAT na firmę do zamówienia 4420.\n"
        "Dane: Biuro Rachunkowe Jabłoński, NIP 525-000-00-00, ul. Świętokrzyska 12, 00-916 Warszawa.\n\n"
        "Dziękuję,\nGrzegorz Jabłoński",
        "Dzień dobry,\n\nfaktura została wystawiona i wysłana na ten adres. Prosimy o sprawdzenie danych.",
        "Faktura dotarła, ale w nazwie nabywcy brakuje „Biuro Rachunkowe”. Proszę o korektę.\n\n"
        "Grzegorz Jabłoński",
    ),
    (
        "Uszkodzona paczka — rozbity kubek",
        "Dzień dobry,\n\nw paczce z zamówienia 4415 jeden z kubków ceramicznych był rozbity, karton był "
        "zgnieciony. Zdjęcia mogę dosłać. Co teraz?\n\nMałgorzata Dąbrowska",
        "Pani Małgorzato, bardzo przepraszamy! Prosimy o zdjęcie kartonu i kubka — wyślemy nowy "
        "egzemplarz od razu po otrzymaniu zdjęć.",
        None,
    ),
    (
        "Pytanie o dostępność: żółw ogrodowy, figurka",
        "Witam,\n\nczy figurka „żółw ogrodowy” w rozmiarze L wróci do sprzedaży przed świętami? "
        "Chciałabym kupić trzy sztuki.\n\nZofia Kaczmarek-Żak",
        None,
        None,
    ),
    (
        "Zmiana adresu dostawy zamówienia 4430",
        "Dzień dobry,\n\npomyliłem adres — zamiast ul. Łąkowej 5 powinno być ul. Łąkowa 15, Łódź. "
        "Czy da się to jeszcze zmienić?\n\nŁukasz Szymański",
        "Dzień dobry, adres został poprawiony na ul. Łąkowa 15, 90-001 Łódź.",
        "Super, dziękuję za szybką reakcję!\nŁukasz",
    ),
]

EN_THREADS = [
    (
        "Order #4402 arrived without the charger",
        "Hello,\n\nmy order #4402 (the cordless screwdriver) arrived today but the charger is missing "
        "from the box. Could you send one?\n\nBest,\nEmily Carter",
        "Hi Emily,\n\nsorry about that! A charger is on its way, tracking number to follow.",
        "Thanks, the charger came today and everything works. Great service!\n\nEmily",
    ),
    (
        "Refund still not received",
        "Hi,\n\nI returned order #4377 two weeks ago (return label RT-99812) and still have not seen the "
        "refund on my card. Can you check?\n\nRegards,\nJames O'Neill",
        "Hi James,\n\nthe return was received on Monday; the refund was issued today and should appear "
        "within 3-5 business days.",
        "It is now day 6 and still nothing. Could you send me the transaction reference?\n\nJames",
    ),
    (
        "Bulk order for a design studio",
        "Hello team,\n\nwe would like to order 40 desk lamps (model Aura, white) for our new studio. "
        "Do you offer a volume discount and delivery to Kraków?\n\nKind regards,\nPriya Natarajan",
        None,
        None,
    ),
]


def demo_messages(seed: int = 20261116) -> list[bytes]:
    """About three dozen raw RFC 5322 messages, in arrival order."""
    ctx = _Ctx(random.Random(seed))
    # Who writes which conversation (index into PEOPLE), in the order of PL_THREADS + EN_THREADS.
    authors = [0, 1, 5, 2, 4, 3, 6, 7, 8]
    threads = [(PEOPLE[i], t) for i, t in zip(authors, PL_THREADS + EN_THREADS, strict=True)]
    followups = []
    our_replies: list[tuple[_Person, str, str]] = []
    for person, (subject, first, reply, follow) in threads:
        first_id = ctx.msgid(person.domain)
        ctx.out.append(_customer_mail(ctx, person, subject, first, first_id))
        if reply is not None:
            # Our answer went out through the mailbox (it lives in Sent, not in the inbox).
            reply_id = ctx.msgid(DEMO_DOMAIN)
            our_replies.append((person, subject, reply_id))
            if follow is not None:
                followups.append((person, subject, follow, [first_id, reply_id]))
    for person, subject, body, refs in followups:
        ctx.out.append(
            _customer_mail(ctx, person, _re(person, subject), body, ctx.msgid(person.domain), refs)
        )

    ctx.out.append(_outlook_followup_without_headers(ctx))
    ctx.out.append(_auto_reply(ctx, *our_replies[1]))
    ctx.out.append(_newsletter(ctx))
    ctx.out.append(_notification(ctx))
    ctx.out.append(_invoice_complaint_with_pdf(ctx))
    ctx.out.extend(_more_single_questions(ctx))
    ctx.out.append(_bounce(ctx))  # our answer to the warranty question above went to a mistyped address
    return ctx.out


def _serialize(msg: Message, ctx: _Ctx) -> bytes:
    """Bytes with MIME boundaries from the seeded generator (the email package would pick random ones)."""
    for part in msg.walk():
        if part.get_content_maintype() == "multipart":
            part.set_boundary(f"=_responer_demo_{ctx.rng.getrandbits(48):012x}")
    return msg.as_bytes()


def _re(person: _Person, subject: str) -> str:
    return ("Odp: " if person.charset != "utf-8" else "Re: ") + subject


def _customer_mail(
    ctx: _Ctx, person: _Person, subject: str, body: str, msgid: str, refs: list[str] | None = None
) -> bytes:
    date = ctx.tick()
    if person.charset == "utf-8":
        msg = EmailMessage()
        msg["From"] = formataddr((person.name, person.email))
        msg["To"] = formataddr((DEMO_NAME, DEMO_ADDRESS))
        msg["Subject"] = subject
        msg["Date"] = format_datetime(date)
        msg["Message-ID"] = msgid
        if refs:
            msg["In-Reply-To"] = refs[-1]
            msg["References"] = " ".join(refs)
        msg["User-Agent"] = "Mozilla Thunderbird"
        msg.set_content(body)
        return _serialize(msg, ctx)
    # Older clients: everything in iso-8859-2, headers as encoded-words in that charset; typographic
    # dashes and quotes do not exist there, their users type plain ones.
    subject, body = _plain_punctuation(subject), _plain_punctuation(body)
    legacy = MIMEText(body, "plain", person.charset)
    legacy["From"] = formataddr((person.name, person.email), charset=person.charset)
    legacy["To"] = DEMO_ADDRESS
    legacy["Subject"] = Header(subject, person.charset).encode()
    legacy["Date"] = format_datetime(date)
    legacy["Message-ID"] = msgid
    if refs:
        legacy["In-Reply-To"] = refs[-1]
        legacy["References"] = " ".join(refs)
    legacy["X-Mailer"] = "Microsoft Outlook 16.0"
    return _serialize(legacy, ctx)


_PLAIN: dict[str, str | int | None] = {"—": "-", "–": "-", "„": '"', "”": '"', "…": "..."}


def _plain_punctuation(text: str) -> str:
    return text.translate(str.maketrans(_PLAIN))


def _outlook_followup_without_headers(ctx: _Ctx) -> bytes:
    """Małgorzata answers from her phone: the client dropped In-Reply-To/References, the subject says it."""
    person = PEOPLE[2]
    return _customer_mail(
        ctx,
        person,
        "Odp: " + PL_THREADS[3][0],
        "Przesyłam zdjęcia w kolejnym mailu, karton wyrzuciłam niestety wczoraj.\n\n"
        "Wysłane z mojego telefonu",
        ctx.msgid("skrzynka.example"),
    )


def _auto_reply(ctx: _Ctx, person: _Person, subject: str, our_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((person.name, person.email))
    msg["To"] = DEMO_ADDRESS
    msg["Subject"] = "Automatyczna odpowiedź: " + _re(person, subject)
    msg["Date"] = format_datetime(ctx.tick((1, 2)))
    msg["Message-ID"] = ctx.msgid(person.domain)
    msg["In-Reply-To"] = our_id
    msg["References"] = our_id
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Autoreply"] = "yes"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "auto_reply"
    msg.set_content(
        "Dzień dobry,\n\njestem na urlopie do 30 listopada, nie mam dostępu do poczty. "
        "W pilnych sprawach proszę dzwonić do biura: +48 22 000 00 00.\n\nPaweł Zieliński"
    )
    return _serialize(msg, ctx)


def _bounce(ctx: _Ctx) -> bytes:
    """Our answer to a mistyped address came back: an RFC 3464 delivery-status report."""
    date = ctx.tick((3, 10))
    original = EmailMessage()
    original["From"] = formataddr(("Sklep Demo", DEMO_ADDRESS))
    original["To"] = "tomasz.nowak@exmaple.org"
    original["Subject"] = "Re: Gwarancja na ekspres do kawy"
    original["Date"] = format_datetime(date - timedelta(minutes=2))
    original["Message-ID"] = ctx.msgid(DEMO_DOMAIN)
    original.set_content("Dzień dobry, gwarancja obejmuje 24 miesiące od daty zakupu.")

    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.demo.responer.test>"
    report["To"] = DEMO_ADDRESS
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Date"] = format_datetime(date)
    report["Message-ID"] = ctx.msgid("mx.demo.responer.test")
    report["Auto-Submitted"] = "auto-replied"
    report.preamble = "This is a MIME-encapsulated message."
    report.attach(
        MIMEText(
            "This is the mail system at host mx.demo.responer.test.\n\n"
            "I'm sorry to have to inform you that your message could not be delivered to one or more\n"
            "recipients.\n\n<tomasz.nowak@exmaple.org>: Host or domain name not found. Name service\n"
            "error for name=exmaple.org type=MX: Host not found\n",
            "plain",
            "us-ascii",
        )
    )
    status = Message()
    status.set_type("message/delivery-status")
    per_message = Message()
    per_message["Reporting-MTA"] = "dns; mx.demo.responer.test"
    per_message["Arrival-Date"] = format_datetime(date - timedelta(minutes=2))
    per_recipient = Message()
    per_recipient["Final-Recipient"] = "rfc822; tomasz.nowak@exmaple.org"
    per_recipient["Original-Recipient"] = "rfc822;tomasz.nowak@exmaple.org"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.4.4"
    per_recipient["Diagnostic-Code"] = "X-Postfix; Host or domain name not found"
    status.set_payload([per_message, per_recipient])
    del status["MIME-Version"]
    report.attach(status)
    report.attach(MIMEMessage(_compat(original)))
    raw = _serialize(report, ctx)
    return b"Return-Path: <>\r\n" + raw if not raw.startswith(b"Return-Path") else raw


def _compat(msg: EmailMessage) -> Message:
    import email
    from email import policy

    return email.message_from_bytes(msg.as_bytes(), policy=policy.compat32)


def _newsletter(ctx: _Ctx) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr(("Hurtownia Narzędzi — Newsletter", "newsletter@hurtownia-narzedzi.example"))
    msg["To"] = DEMO_ADDRESS
    msg["Subject"] = "Black Week: -30% na elektronarzędzia dla partnerów"
    msg["Date"] = format_datetime(ctx.tick())
    msg["Message-ID"] = ctx.msgid("mailing.hurtownia-narzedzi.example")
    msg["List-Id"] = "Oferty dla partnerów <partnerzy.hurtownia-narzedzi.example>"
    msg["List-Unsubscribe"] = (
        "<mailto:unsubscribe@hurtownia-narzedzi.example?subject=unsubscribe>, "
        "<https://hurtownia-narzedzi.example/unsubscribe?u=demo>"
    )
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Precedence"] = "bulk"
    msg.set_content(
        "Black Week dla partnerów: -30% na wiertarki, szlifierki i zakrętarki do niedzieli.\n"
        "Zamówienia hurtowe realizujemy w 24 h."
    )
    msg.add_alternative(
        "<html><body><h1>Black Week dla partnerów</h1><p><b>-30%</b> na wiertarki, szlifierki "
        "i zakrętarki do niedzieli.</p><p><a href='https://hurtownia-narzedzi.example/unsubscribe'>"
        "Wypisz się</a></p></body></html>",
        subtype="html",
    )
    return _serialize(msg, ctx)


def _notification(ctx: _Ctx) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr(("Płatności Demo", "no-reply@platnosci.example"))
    msg["To"] = DEMO_ADDRESS
    msg["Subject"] = "Wpłata zaksięgowana: zamówienie 4430 (249,00 zł)"
    msg["Date"] = format_datetime(ctx.tick())
    msg["Message-ID"] = ctx.msgid("platnosci.example")
    msg.set_content(
        "Ta wiadomość została wygenerowana automatycznie, prosimy na nią nie odpowiadać.\n\n"
        "Wpłata 249,00 zł za zamówienie 4430 została zaksięgowana."
    )
    return _serialize(msg, ctx)


def _invoice_complaint_with_pdf(ctx: _Ctx) -> bytes:
    person = PEOPLE[5]
    msg = EmailMessage()
    msg["From"] = formataddr((person.name, person.email))
    msg["To"] = DEMO_ADDRESS
    msg["Subject"] = "Reklamacja faktury FV/2026/11/0173 — błędna stawka VAT"
    msg["Date"] = format_datetime(ctx.tick())
    msg["Message-ID"] = ctx.msgid(person.domain)
    msg.set_content(
        "Dzień dobry,\n\nna fakturze FV/2026/11/0173 (w załączniku) naliczono VAT 23% zamiast 8% dla "
        "pozycji 2. Proszę o fakturę korygującą.\n\nZ poważaniem\nGrzegorz Jabłoński"
    )
    pdf = tiny_pdf(
        [
            "Faktura VAT FV/2026/11/0173",
            "Sprzedawca: Sklep Demo sp. z o.o.",
            "Nabywca: Biuro Rachunkowe Jablonski",
            "Poz. 2: Kubek ceramiczny 4 szt., VAT 23%",
        ]
    )
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="FV_2026_11_0173.pdf")
    return _serialize(msg, ctx)


SINGLES = [
    (
        PEOPLE[9],
        "Gwarancja na ekspres do kawy",
        "Dzień dobry, ile wynosi gwarancja na ekspres Barista Pro i czy obejmuje młynek?\nTomasz Nowak",
    ),
    (
        PEOPLE[0],
        "Kod rabatowy nie działa",
        "Kod JESIEŃ10 z newslettera pokazuje „kod nieważny”. Czy jest jeszcze aktywny?\nAgnieszka",
    ),
    (
        PEOPLE[7],
        "Can I change the colour of my order?",
        "Hi, I ordered the Aura lamp in black (#4441) but would prefer white. Not shipped yet, I hope?\nJames",
    ),
    (
        PEOPLE[1],
        "Faktura zbiorcza za listopad",
        "Dzień dobry, czy możemy otrzymywać jedną fakturę zbiorczą za wszystkie zamówienia w miesiącu?\n"
        "Paweł Zieliński",
    ),
    (
        PEOPLE[4],
        "Prezent — czy można dołączyć bilecik?",
        "Dzień dobry, zamówienie 4450 to prezent. Czy można dołączyć bilecik z życzeniami "
        "i nie wkładać paragonu do paczki?\nZofia",
    ),
    (
        PEOPLE[6],
        "Warranty claim: lamp flickers",
        "Hello, the Aura lamp I bought in March started flickering. Is this covered by the warranty? "
        "Receipt attached in my account.\nEmily",
    ),
    (
        PEOPLE[3],
        "Termin dostawy na Święta",
        "Do kiedy trzeba złożyć zamówienie, żeby dotarło przed Wigilią?\nŁukasz",
    ),
    (
        PEOPLE[5],
        "Duplikat faktury",
        "Dzień dobry, zgubiliśmy fakturę FV/2026/10/0088, prosimy o duplikat w PDF.\nGrzegorz Jabłoński",
    ),
    (
        PEOPLE[2],
        "Płatność za pobraniem?",
        "Czy przy zamówieniu powyżej 500 zł mogę zapłacić przy odbiorze?\nMałgorzata",
    ),
    (
        PEOPLE[8],
        "Invoice address correction",
        "Hello, please put our VAT ID PL5250000000 on invoice INV-2026-0912. Thank you!\nPriya",
    ),
]


def _more_single_questions(ctx: _Ctx) -> list[bytes]:
    return [_customer_mail(ctx, p, subject, body, ctx.msgid(p.domain)) for p, subject, body in SINGLES]
