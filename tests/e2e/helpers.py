"""Small helpers for tests that drive the public HTTP API of a running stack."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def login(base_url: str, email: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=10.0)
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    client.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return client


def eventually(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except httpx.HTTPError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {what} (last: {last!r})")


def register_mailbox(api: httpx.Client, account: Any, address: str) -> dict:
    response = api.post(
        "/api/mailboxes",
        json={
            "name": "Support",
            "address": address,
            "imap_host": account.host,
            "imap_port": account.port,
            "tls_mode": "plain",
            "username": account.user,
            "password": account.password,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def customer_mail(
    subject: str,
    body: str,
    *,
    sender: str = "Jan Nowak <jan.nowak@klient.pl>",
    to: str = "support@shop.test",
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    date: str = "Tue, 24 Nov 2026 09:15:00 +0100",
) -> tuple[str, bytes]:
    message_id = f"{uuid.uuid4().hex}@klient.pl"
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}>"
    msg["Date"] = date
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        msg["References"] = " ".join(f"<{r}>" for r in (references or [in_reply_to]))
    msg.set_content(body)
    return message_id, msg.as_bytes()


def dsn_bounce(to: str, failed: str) -> bytes:
    """A real-shaped RFC 3464 delivery status notification (multipart/report)."""
    boundary = "dsn-" + uuid.uuid4().hex
    return (
        f"From: MAILER-DAEMON@mx.klient.pl (Mail Delivery System)\r\n"
        f"To: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.klient.pl>\r\n"
        f"Date: Tue, 24 Nov 2026 09:20:00 +0100\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        f"<{failed}>: host mx.klient.pl said: 550 5.1.1 User unknown\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.klient.pl\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()
