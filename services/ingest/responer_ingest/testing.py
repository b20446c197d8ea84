"""Helpers for tests that run the real ingest service in-process (real PostgreSQL, NATS, dovecot)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import nats
from cryptography.fernet import Fernet
from responer_events import decode, stream_name

from responer_ingest.bootstrap import build
from responer_ingest.config import Settings


def make_mail(
    n: int, *, body: str = "", subject: str = "", to: str = "sklep@shop.test", cc: str = ""
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Anna Kowalska <anna@klient.pl>"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject or f"Zamówienie {n} — pytanie o zwrot"
    msg["Message-ID"] = f"<order-{n}@klient.pl>"
    msg["Date"] = "Mon, 01 Jun 2026 10:00:00 +0200"
    msg.set_content(body or f"Dzień dobry, proszę o zwrot żółwia nr {n}.")
    return msg.as_bytes()


def ingest_settings(pg: Any, nats_url: str, namespace: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "namespace": namespace,
        "nats_url": nats_url,
        "pg_host": pg.host,
        "pg_port": pg.port,
        "pg_dbname": pg.dbname,
        "pg_user": pg.user,
        "pg_password": pg.password,
        "ops_port": _free_port(),
        "grpc_port": _free_port(),
        "secret_key": Fernet.generate_key().decode(),
        "idle_timeout": 30,
        "poll_interval": 1,
        "max_backoff": 2,
        "log_level": "DEBUG",
    }
    values.update(overrides)
    return Settings(**values)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running_ingest(settings: Settings) -> AsyncIterator[Any]:
    """The ingest service (bootstrap.build) serving in this event loop; its stream is deleted after."""
    service = build(settings)
    task = asyncio.create_task(service.serve())
    for _ in range(200):
        if service.ready or task.done():
            break
        await asyncio.sleep(0.05)
    if task.done():
        task.result()
    try:
        yield service
    finally:
        service.stop.set()
        await asyncio.wait_for(task, 30)
        nc = await nats.connect(settings.nats_url)
        try:
            await nc.jetstream().delete_stream(stream_name("ingest", settings.namespace))
        except Exception:  # noqa: BLE001 - never created
            pass
        finally:
            await nc.close()


async def read_stream(nats_url: str, namespace: str, producer: str = "ingest") -> list[tuple[bytes, Any]]:
    """Every message of a producer's stream: (raw bytes, decoded event or None for unknown types)."""
    nc = await nats.connect(nats_url)
    out: list[tuple[bytes, Any]] = []
    try:
        js = nc.jetstream()
        stream = stream_name(producer, namespace)
        try:
            info = await js.stream_info(stream)
        except Exception:  # noqa: BLE001 - no stream yet
            return []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq=seq)
            except Exception:  # noqa: BLE001 - deleted
                continue
            try:
                event = decode(msg.data)
            except KeyError:
                event = None
            out.append((bytes(msg.data) + repr(msg.headers).encode(), event))
    finally:
        await nc.close()
    return out


async def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2) -> Any:  # noqa: ANN001
    """Polls `await predicate()` (or a plain function) until truthy; returns its value or fails."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


class TcpProxy:
    """A TCP relay between a client and a server that a test can cut (every open connection is
    closed) and restore: a network failure for real, not a mock."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(50)
        self.port = int(self.listener.getsockname()[1])
        self.accepting = threading.Event()
        self.accepting.set()
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.bytes_relayed = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.accepting.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.bytes_relayed += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until restore()."""
        self.accepting.clear()
        with self.lock:
            conns, self.connections = self.connections, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def restore(self) -> None:
        self.accepting.set()

    def close(self) -> None:
        self.closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.close()


def new_tenant() -> str:
    return str(uuid.uuid4())
