"""Size limits record what they cut; attachments are stored once, content-addressed (real PostgreSQL)."""

from __future__ import annotations

import hashlib
import uuid
from email.message import EmailMessage

import pytest
from responer.events.v1 import events_pb2
from responer_ingest.application import MAX_EVENT_TEXT_CHARS, MailboxSpec, content_hash
from responer_ingest.bootstrap import build_application
from responer_ingest.domain import parse_mail
from responer_ingest.domain.message import message_key
from responer_ingest.testing import ingest_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def app(private_database):
    settings = ingest_settings(private_database, "nats://127.0.0.1:1", "unused", max_attachment_bytes=4000)
    application, pool = build_application(settings)
    yield application
    pool.close()


def register(app, address: str = "a@shop.test"):  # noqa: ANN001, ANN201
    return app.register_mailbox(
        MailboxSpec(
            tenant_id=str(uuid.uuid4()),
            name="a",
            address=address,
            imap_host="127.0.0.1",
            imap_port=1,
            tls_mode="plain",
            username="u",
            password="p",
        )
    )


def mail_with(attachments: dict[str, bytes], text: str = "Faktura w załączniku.", n: int = 1) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Anna <anna@klient.pl>"
    msg["To"] = "a@shop.test"
    msg["Subject"] = f"Faktura {n}"
    msg["Message-ID"] = f"<inv-{n}@klient.pl>"
    msg.set_content(text)
    for name, data in attachments.items():
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def received(app, tenant_id: str, raw: bytes) -> events_pb2.MailReceived:  # noqa: ANN001
    parsed = parse_mail(raw)
    message = app.repository.get(message_key(tenant_id, parsed.message_id, content_hash(parsed)))
    event = events_pb2.MailReceived()
    event.ParseFromString(message.payload)
    return event


def test_an_attachment_over_the_limit_is_recorded_not_stored_and_the_raw_message_is_kept(app):
    mailbox = register(app)
    small, big = b"S" * 1000, bytes(range(256)) * 40  # 10,240 bytes, over the 4,000-byte limit
    raw = mail_with({"small.bin": small, "big.bin": big})
    assert app.receive_batch(str(mailbox.id), "INBOX", 1, [(1, raw)]) == 1
    mail = received(app, mailbox.tenant_id, raw).mail
    by_name = {a.filename: a for a in mail.attachments}
    assert by_name["small.bin"].omitted_reason == ""
    assert app.blobs.get(by_name["small.bin"].sha256) == small
    assert "4000-byte attachment limit" in by_name["big.bin"].omitted_reason
    assert by_name["big.bin"].size == len(big)
    assert not app.blobs.exists(hashlib.sha256(big).hexdigest())
    assert any("'big.bin' (10240 bytes)" in cut for cut in mail.cuts)
    assert app.blobs.get(mail.raw_sha256) is not None  # the whole message, big attachment included


def test_the_same_attachment_in_two_messages_is_one_blob(app):
    mailbox = register(app)
    pdf = b"%PDF-1.4 faktura " * 100
    first, second = mail_with({"f.pdf": pdf}, n=1), mail_with({"kopia.pdf": pdf}, n=2)
    assert app.receive_batch(str(mailbox.id), "INBOX", 1, [(1, first), (2, second)]) == 2
    a = received(app, mailbox.tenant_id, first).mail.attachments[0]
    b = received(app, mailbox.tenant_id, second).mail.attachments[0]
    assert a.sha256 == b.sha256 == hashlib.sha256(pdf).hexdigest()
    with app.blobs.pool.connection() as conn:
        rows = conn.execute("SELECT count(*) FROM ingest.blobs WHERE sha256 = %s", (a.sha256,)).fetchone()
    assert rows[0] == 1


def test_a_huge_text_is_cut_in_the_event_with_a_record(app):
    mailbox = register(app)
    raw = mail_with({}, text="Długi log:\n" + "linia błędu 12345\n" * 20_000)
    app.receive_batch(str(mailbox.id), "INBOX", 1, [(1, raw)])
    mail = received(app, mailbox.tenant_id, raw).mail
    assert len(mail.text) == MAX_EVENT_TEXT_CHARS
    assert any(cut.startswith(f"text cut at {MAX_EVENT_TEXT_CHARS} of ") for cut in mail.cuts)


def test_a_position_only_advances_with_the_stored_batch_and_repeats_are_skipped(app):
    mailbox = register(app)
    raws = [(uid, mail_with({}, n=uid)) for uid in (1, 2, 3)]
    assert app.receive_batch(str(mailbox.id), "INBOX", 7, raws[:2]) == 2
    assert app.mailbox(mailbox.id).position("INBOX", 7) == 2
    outcome = app.receive_batch_outcome(str(mailbox.id), "INBOX", 7, raws)
    assert (outcome.received, outcome.skipped) == (1, 2)
    # A new UIDVALIDITY: every message is read again and recognised, nothing new is received.
    again = app.receive_batch_outcome(str(mailbox.id), "INBOX", 8, [(10 + u, r) for u, r in raws])
    assert (again.received, again.seen) == (0, 3)
    assert app.mailbox(mailbox.id).messages_received == 3


def test_replaying_mail_whose_raw_blob_is_gone_keeps_it_quarantined_with_the_reason(app):
    mailbox = register(app)
    app.max_message_bytes = 500
    raw = mail_with({}, text="x" * 2000)
    outcome = app.receive_batch_outcome(str(mailbox.id), "INBOX", 1, [(1, raw)])
    assert outcome.quarantined == 1 and app.mailbox(mailbox.id).position("INBOX", 1) == 1
    (q,) = app.quarantined(mailbox.tenant_id)
    with app.blobs.pool.connection() as conn:  # a broken blob store, for real
        conn.execute("DELETE FROM ingest.blobs WHERE sha256 = %s", (q.raw_sha256,))
    app.max_message_bytes = 10_000_000
    (again,) = app.replay(mailbox.tenant_id, all_=True)
    assert again.status == "failed_again" and "missing from the blob store" in again.reason
    assert [x.id for x in app.quarantined(mailbox.tenant_id)] == [q.id]  # listed still, never dropped
