"""The sync worker against a real dovecot: IDLE is re-issued before a server would drop it (without
reconnecting), and the folder position only moves with stored messages."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from responer_cli.devstack.dovecot import Dovecot, DovecotMissing
from responer_ingest.adapters.imap_sync import MailboxSync
from responer_ingest.application import MailboxSpec
from responer_ingest.bootstrap import build_application
from responer_ingest.testing import ingest_settings, make_mail

pytestmark = pytest.mark.integration


class CountingSync(MailboxSync):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.idles = 0
        self.connections = 0

    def _idle(self, client, wait):  # noqa: ANN001, ANN202
        self.idles += 1
        return super()._idle(client, wait)

    def _sync_loop(self, client, mailbox):  # noqa: ANN001, ANN202
        self.connections += 1
        return super()._sync_loop(client, mailbox)


def test_idle_is_reissued_on_one_connection_and_new_mail_arrives(private_database, imap_account):
    settings = ingest_settings(private_database, "nats://127.0.0.1:1", "unused")
    app, pool = build_application(settings)
    try:
        mailbox = app.register_mailbox(
            MailboxSpec(
                tenant_id=str(uuid.uuid4()),
                name="s",
                address="s@shop.test",
                imap_host=imap_account.host,
                imap_port=imap_account.port,
                tls_mode="plain",
                username=imap_account.user,
                password=imap_account.password,
            )
        )
        stored = threading.Event()
        sync = CountingSync(
            app,
            str(mailbox.id),
            idle_timeout=0.7,  # a server that drops IDLE after ~1 s: we must re-issue before that
            poll_interval=5,
            fetch_batch=10,
            imap_timeout=10,
            on_stored=lambda n: stored.set(),
        )
        sync.start()
        time.sleep(3.5)
        assert sync.idles >= 3, "IDLE was not re-issued"
        assert sync.connections == 1 and sync.health.errors == 0, sync.health.last_error
        imap_account.append(make_mail(1))
        assert stored.wait(10), "mail appended during IDLE was not fetched"
        assert app.mailbox(mailbox.id).messages_received == 1
        assert sync.health.connected and sync.health.last_sync_at
        sync.stop()
        sync.thread.join(10)
        assert not sync.thread.is_alive()
    finally:
        pool.close()


class NoIdleDovecot(Dovecot):
    """A server that does not offer IDLE (some Exchange and hosting setups): the sync must poll."""

    def _write_config(self) -> None:
        super()._write_config()
        text = self.config_file.read_text()
        text += "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE UIDPLUS\n"
        self.config_file.write_text(text)


def test_without_idle_the_sync_polls(private_database, responer_state_dir):
    server = NoIdleDovecot(responer_state_dir / f"noidle-{uuid.uuid4().hex[:6]}")
    try:
        server.start()
    except DovecotMissing as exc:
        pytest.skip(str(exc))
    settings = ingest_settings(private_database, "nats://127.0.0.1:1", "unused")
    app, pool = build_application(settings)
    try:
        server.add_user("poll@imap.responer.test", "poll-pw")
        with server.client("poll@imap.responer.test", "poll-pw") as c:
            assert b"IDLE" not in c.capabilities()
        mailbox = app.register_mailbox(
            MailboxSpec(
                tenant_id=str(uuid.uuid4()),
                name="p",
                address="p@shop.test",
                imap_host=server.host,
                imap_port=server.port,
                tls_mode="plain",
                username="poll@imap.responer.test",
                password="poll-pw",
            )
        )
        sync = CountingSync(
            app,
            str(mailbox.id),
            idle_timeout=30,
            poll_interval=0.5,
            fetch_batch=10,
            imap_timeout=10,
            on_stored=print,
        )
        sync.start()
        time.sleep(1.0)
        server.append("poll@imap.responer.test", "poll-pw", make_mail(5))
        deadline = time.monotonic() + 10
        while app.mailbox(mailbox.id).messages_received < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert app.mailbox(mailbox.id).messages_received == 1
        assert sync.idles == 0 and sync.connections == 1
        sync.stop()
        sync.thread.join(10)
    finally:
        pool.close()
        server.stop()
