"""A reply by its headers that asks about another matter by its text (decision._topic_shift, topics.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from responer_threading.domain import InMemoryThreadStore, MailFacts, thread_message
from responer_threading.domain.ports import MailboxPolicy
from responer_threading.domain.topics import own_text, terms

pytestmark = pytest.mark.unit
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
QUOTE = (
    "\n\nW dniu 03.03.2025 o 10:00, Sklep <sklep@acme.example> napisał(a):\n"
    "> Zamówienie 482913 zostało nadane wczoraj, numer przesyłki KP123456789012PL.\n"
)


def mail(
    message_id, text, *, irt=(), refs=None, hours=0.0, outbound=False, subject="Re: Zamówienie 482913", **kw
):
    return MailFacts(
        tenant_id="acme",
        mailbox_id="sklep",
        responer_message_id=uuid.uuid5(uuid.NAMESPACE_URL, message_id),
        message_id=message_id,
        in_reply_to=tuple(irt),
        references=tuple(irt if refs is None else refs),
        subject=subject,
        from_email="sklep@acme.example" if outbound else "anna@example.com",
        to=("anna@example.com",) if outbound else ("sklep@acme.example",),
        date=T0 + timedelta(hours=hours),
        direction="outbound" if outbound else "inbound",
        mailbox_address="sklep@acme.example",
        text=text,
        **kw,
    )


@pytest.fixture
def store():
    """A finished conversation: a question about order 482913 and our answer to it."""
    store = InMemoryThreadStore()
    thread_message(
        mail(
            "q@x",
            "Dzień dobry,\n\nzłożyłam zamówienie 482913 (czajnik elektryczny) tydzień temu i nadal nie mam "
            "informacji o wysyłce. Kiedy mogę się spodziewać paczki?\n\nPozdrawiam\nAnna Kowalska\n"
            "tel. +48 601 234 567",
            subject="Zamówienie 482913",
        ),
        store,
    )
    thread_message(
        mail(
            "a@x",
            "Dzień dobry,\n\nzamówienie 482913 zostało nadane wczoraj, numer przesyłki KP123456789012PL.\n\n"
            "Pozdrawiamy\n-- \nSklep Acme\nul. Długa 1, Warszawa",
            irt=["q@x"],
            hours=2,
            outbound=True,
        ),
        store,
    )
    return store


def reply(store, text, **kw):
    return thread_message(mail("r@x", text, irt=["a@x"], hours=kw.pop("hours", 20), **kw), store)


def first(store):
    return store.thread_by_number("acme", 1000)


def test_a_new_order_asked_as_a_reply_starts_a_thread_with_a_suggestion_back(store):
    result = reply(
        store,
        "Dzień dobry,\n\nchciałabym zwrócić odkurzacz pionowy z zamówienia 771204, przyszedł uszkodzony. "
        "Jak odesłać towar?\n\nPozdrawiam\nAnna Kowalska\ntel. +48 601 234 567" + QUOTE,
    )
    assert (result.signal, result.new_thread) == ("topic_shift", True)
    assert result.merge_suggested_into == first(store).thread_id
    assert "771204" in result.detail
    # The new matter goes on in its own thread; its References into the old one merge nothing back.
    answer = thread_message(
        mail(
            "a2@x",
            "Prosimy odesłać odkurzacz na nasz adres.",
            irt=["r@x"],
            refs=["q@x", "a@x", "r@x"],
            hours=22,
            outbound=True,
        ),
        store,
    )
    assert answer.thread_id == result.thread_id and not answer.merged_thread_ids


def test_the_same_order_number_stays(store):
    result = reply(
        store,
        "Dzień dobry,\n\nzamówienie 482913 nadal nie dotarło, kurier twierdzi, że nie było nikogo w domu, "
        "a pracuję zdalnie cały tydzień.\n\nPozdrawiam\nAnna" + QUOTE,
    )
    assert result.thread_id == first(store).thread_id


def test_a_short_thanks_stays(store):
    assert reply(store, "Dziękuję, wszystko jasne!\n\nAnna" + QUOTE).thread_id == first(store).thread_id


def test_a_follow_up_on_the_same_product_that_quotes_our_answer_stays(store):
    result = reply(
        store,
        "Dzień dobry,\n\ndziękuję. Czy czajnik elektryczny ma gwarancję producenta, a paragon dołączycie "
        "do paczki? Numer faktury 2025/03/118 proszę dopisać.\n\nPozdrawiam\nAnna" + QUOTE,
    )
    assert result.thread_id == first(store).thread_id


def test_a_new_question_without_any_identifier_stays(store):
    # No order, invoice or policy of its own: not evidence enough; an agent splits it if need be.
    result = reply(
        store,
        "Dzień dobry,\n\nczy prowadzicie też sprzedaż hurtową dla firm i wystawiacie faktury z odroczonym "
        "terminem płatności?\n\nPozdrawiam\nAnna" + QUOTE,
    )
    assert result.thread_id == first(store).thread_id


def test_contact_and_bank_details_are_no_new_matter(store):
    result = reply(
        store,
        "Niestety to nie pomogło. Proszę o zwrot pieniędzy na konto PL61 1090 1014 0000 0712 1981 2874, "
        "mój numer telefonu to +48 601 999 000, gdyby łatwiej było zadzwonić." + QUOTE,
    )
    assert result.thread_id == first(store).thread_id


def test_automatic_mail_never_shifts(store):
    result = reply(
        store,
        "Jestem na urlopie. W sprawie zamówień 771204 i 990011 proszę pisać do działu sprzedaży, który "
        "odpowiada na wszystkie pytania handlowe.",
        automatic=True,
    )
    assert result.thread_id == first(store).thread_id


def test_a_mailbox_can_turn_it_off(store):
    store.policies[("acme", "sklep")] = MailboxPolicy(topic_shift=False)
    result = reply(
        store,
        "Dzień dobry,\n\nchciałabym zwrócić odkurzacz pionowy z zamówienia 771204, przyszedł uszkodzony. "
        "Jak odesłać towar?",
    )
    assert result.thread_id == first(store).thread_id


def test_a_thread_we_never_answered_is_never_split_by_text():
    # Mailing lists: people change the matter mid-thread and the headers are the truth.
    store = InMemoryThreadStore()
    question = thread_message(mail("q@x", "Zamówienie 482913 nie dotarło, kiedy wysyłka paczki?"), store)
    result = thread_message(
        mail(
            "r@x",
            "Chciałabym zwrócić odkurzacz pionowy z zamówienia 771204, przyszedł uszkodzony.",
            irt=["q@x"],
        ),
        store,
    )
    assert result.thread_id == question.thread_id


def test_own_text_cuts_quotes_and_signature():
    text = (
        "Hello,\n\nplease check order 771204.\n\nBest regards\nAnna Smith\nAcme Ltd\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Support <s@acme.example> wrote:\n> order 482913 shipped"
    )
    assert own_text(text) == "Hello,\n\nplease check order 771204."
    outlook = "Thanks, still broken.\n\n-----Original Message-----\nFrom: Support\nSubject: Order 482913"
    assert own_text(outlook) == "Thanks, still broken."


def test_terms_fold_stem_and_keep_identifiers_whole():
    found = terms("Przesyłka do zamówienia ZP/2025/4447 – proszę o fakturę FV/2025/03/118 do 12.03.2025.")
    assert {"zp/2025/4447", "fv/2025/03/118", "przesy", "zamowi", "faktur"} <= found
    assert "12.03.2025" not in found and "prosze" not in found  # a date says when; a stopword nothing
    # A bank account wrapped over two lines and a phone number are the customer's, not a matter.
    party = terms("Zwrot na konto PL41 8291\n1411 4129 3509 5746 4623, tel. 22 628 14 05, +48 601 234 567.")
    assert not any(any(c.isdigit() for c in t) for t in party)
