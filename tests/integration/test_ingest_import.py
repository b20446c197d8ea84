"""`responer import` (the real one) and `responer quarantine`: mail on disk into a mailbox through
ingest's pipeline, on a real PostgreSQL event store and NATS JetStream, idempotent when run twice."""

from __future__ import annotations

import asyncio
import json
import mailbox as stdlib_mailbox
import uuid

import pytest
from responer_cli.main import main
from responer_ingest.application import MailboxSpec
from responer_ingest.bootstrap import build_application
from responer_ingest.testing import ingest_settings, make_mail, read_stream

pytestmark = pytest.mark.integration


@pytest.fixture
def target(private_database, nats_url, fresh_namespace, monkeypatch):
    """A connected mailbox (nobody syncs it here) and the command-line flags that reach its store."""
    settings = ingest_settings(private_database, nats_url, fresh_namespace)
    app, pool = build_application(settings)
    tenant = str(uuid.uuid4())
    app.register_mailbox(
        MailboxSpec(
            tenant_id=tenant,
            name="Archiwum",
            address="archiwum@shop.test",
            imap_host="127.0.0.1",
            imap_port=1,
            tls_mode="plain",
            username="u",
            password="never-used-pw",
        )
    )
    monkeypatch.delenv("RESPONER_SECRET_KEY", raising=False)
    monkeypatch.setenv("RESPONER_PG_PASSWORD", private_database.password)
    flags = [
        "--mailbox",
        "archiwum@shop.test",
        "--nats-url",
        nats_url,
        "--namespace",
        fresh_namespace,
        "--pg-host",
        private_database.host,
        "--pg-port",
        str(private_database.port),
        "--pg-dbname",
        private_database.dbname,
        "--pg-user",
        private_database.user,
    ]
    yield app, settings, flags
    pool.close()


def mails_on_disk(tmp_path, count: int = 6):
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for n in range(count // 2):
        (maildir / "cur" / f"{n}.eml:2,S").write_bytes(make_mail(n))
    (maildir / "tmp" / "half-written").write_bytes(b"Subject: not yet\n\n")
    box = stdlib_mailbox.mbox(str(tmp_path / "old.mbox"))
    for n in range(count // 2, count):
        box.add(make_mail(n, body=f"From the archive\nFrom here on: message {n}\n"))
    box.add(make_mail(0))  # the same mail as in the Maildir: one message
    box.flush()
    return [str(maildir), str(tmp_path / "old.mbox")]


async def published(settings) -> list:
    return [e.payload for _, e in await read_stream(settings.nats_url, settings.namespace) if e]


async def test_import_stores_and_publishes_each_message_once_and_a_second_run_adds_nothing(
    target, tmp_path, capsys
):
    app, settings, flags = target
    paths = mails_on_disk(tmp_path)
    assert await asyncio.to_thread(main, ["import", *paths, *flags]) == 0
    summary = capsys.readouterr().err
    assert "6 new, 1 already known, 0 imported before, 0 quarantined" in summary, summary
    events = await published(settings)
    received = [e for e in events if type(e).__name__ == "MailReceived"]
    assert sorted(e.mail.message_id for e in received) == [f"order-{n}@klient.pl" for n in range(6)]
    assert {e.folder for e in received} == {"(import)"}
    assert all(e.mailbox_address == "archiwum@shop.test" for e in received)
    # mboxrd/mboxo quoting undone: the body line "From here on" arrives as written.
    assert any("From here on: message 4" in e.mail.text for e in received)

    assert await asyncio.to_thread(main, ["import", *paths, *flags]) == 0
    assert "0 new, 0 already known, 7 imported before" in capsys.readouterr().err
    again = [e for e in await published(settings) if type(e).__name__ == "MailReceived"]
    assert len(again) == 6


async def test_an_unknown_mailbox_is_a_clear_error(target, tmp_path, capsys):
    _, _, flags = target
    flags = [*flags]
    flags[flags.index("archiwum@shop.test")] = "nobody@shop.test"
    assert await asyncio.to_thread(main, ["import", *mails_on_disk(tmp_path), *flags]) == 2
    assert "no connected mailbox 'nobody@shop.test'" in capsys.readouterr().err


async def test_oversized_mail_is_quarantined_listed_and_replayed_with_one_command(
    target, tmp_path, capsys, monkeypatch
):
    app, settings, flags = target
    big = tmp_path / "mail" / "big.eml"
    big.parent.mkdir()
    big.write_bytes(make_mail(1, body="duży załącznik " + "y" * 5000))
    (tmp_path / "mail" / "small.eml").write_bytes(make_mail(2))
    monkeypatch.setenv("RESPONER_MAX_MESSAGE_BYTES", "3000")
    assert await asyncio.to_thread(main, ["import", str(tmp_path / "mail"), *flags]) == 0
    assert "1 new, 0 already known, 0 imported before, 1 quarantined" in capsys.readouterr().err

    connection = flags[flags.index("--nats-url") :]
    assert await asyncio.to_thread(main, ["quarantine", "list", *connection]) == 0
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["source"] == str(big) and "too large" in line["reason"] and line["status"] == "quarantined"

    # Still too large: it stays quarantined, visibly, and the command says so by its exit code.
    assert await asyncio.to_thread(main, ["quarantine", "replay", "--id", line["id"], *connection]) == 1
    assert "failed_again" in capsys.readouterr().out
    monkeypatch.setenv("RESPONER_MAX_MESSAGE_BYTES", "1000000")
    assert await asyncio.to_thread(main, ["quarantine", "replay", "--all", *connection]) == 0
    out = capsys.readouterr()
    assert "replayed 1 of 1" in out.err and json.loads(out.out)["status"] == "replayed"
    received = [e for e in await published(settings) if type(e).__name__ == "MailReceived"]
    assert sorted(e.mail.message_id for e in received) == ["order-1@klient.pl", "order-2@klient.pl"]

    # Importing the same files again changes nothing.
    assert await asyncio.to_thread(main, ["import", str(tmp_path / "mail"), *flags]) == 0
    assert "0 new, 0 already known, 2 imported before" in capsys.readouterr().err


async def test_dry_run_reports_what_ingest_would_quarantine_and_cut(tmp_path, monkeypatch):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.eml").write_bytes(make_mail(1))
    report = tmp_path / "r.jsonl"
    assert (
        await asyncio.to_thread(main, ["import", "--dry-run", "--report", str(report), str(tmp_path / "m")])
        == 0
    )
    (line,) = [json.loads(x) for x in report.read_text().splitlines()]
    assert line["quarantine_reason"] is None and line["cuts"] == [] and "charset_repairs" in line
    assert line["signed"] is False and line["attached_messages"] == 0
