"""An SMTP catcher: a real aiosmtpd server in a background thread that keeps every message it receives.

aiosmtpd's `Controller(port=0)` cannot work (its readiness probe connects to port 0), so the server is
created with `loop.create_server(..., port)` directly, which also lets the kernel pick a free port.
Failures can be scripted (`fail_next`) so delivery retries and bounces can be tested against it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CaughtMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    received_at: float = field(default_factory=time.time)

    def message(self):
        """The message parsed with the modern email policy."""
        import email
        from email import policy

        return email.message_from_bytes(self.data, policy=policy.default)


class _AcceptAnyLogin:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        return AuthResult(success=True)


class SmtpCatcher:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, directory: Path | str | None = None) -> None:
        self.host = host
        self.port = port
        self.directory = Path(directory) if directory else None
        self.messages: list[CaughtMessage] = []
        self._cond = threading.Condition()
        self._failures: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> SmtpCatcher:
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)
        ready = threading.Event()
        error: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(self._create_server())
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                error.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"smtp-catcher-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if error:
            raise RuntimeError(f"SMTP catcher could not listen on {self.host}:{self.port}: {error[0]}")
        return self

    async def _create_server(self):
        from aiosmtpd.smtp import SMTP

        loop = asyncio.get_running_loop()
        return await loop.create_server(
            lambda: SMTP(
                self,
                hostname="catcher.responer.test",
                enable_SMTPUTF8=True,
                authenticator=_AcceptAnyLogin(),
                auth_require_tls=False,
                auth_required=False,
                data_size_limit=50 * 1024 * 1024,
            ),
            host=self.host,
            port=self.port,
        )

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            loop.stop()

        # wait_closed may wait for open sessions; stop the loop regardless after a short grace.
        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread is not None:
            self._thread.join(5)
            if self._thread.is_alive():
                loop.call_soon_threadsafe(loop.stop)
                self._thread.join(5)

    def __enter__(self) -> SmtpCatcher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what tests use ------------------------------------------------------------------------------
    def fail_next(self, reply: str = "451 4.3.0 Try again later", times: int = 1) -> None:
        """Answer the next `times` DATA commands with `reply` (4xx temporary, 5xx permanent)."""
        with self._cond:
            self._failures.extend([reply] * times)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[CaughtMessage]:
        """Block until at least n messages were caught; returns them or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"caught {len(self.messages)} of {n} messages within {timeout}s")
                self._cond.wait(left)
            return list(self.messages)

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()

    # -- aiosmtpd handler ----------------------------------------------------------------------------
    async def handle_DATA(self, server, session, envelope) -> str:
        with self._cond:
            if self._failures:
                return self._failures.pop(0)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        msg = CaughtMessage(
            mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos), data=bytes(data)
        )
        if self.directory:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(msg.received_at))
            with self._cond:
                seq = len(self.messages) + 1
            path = self.directory / f"{stamp}-{seq:04d}-{abs(hash(msg.data)) % 10**8:08d}.eml"
            path.write_bytes(msg.data)
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()
        return "250 2.0.0 OK: queued by the Responer SMTP catcher"
