"""The port through which replies leave, and how a delivery attempt can fail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SmtpRoute:
    host: str
    port: int
    tls_mode: str = ""  # "tls" | "starttls" | "plain" | "" (plain)


class DeliveryError(Exception):
    """The server did not take the message; str() is the reason shown to agents."""


class TemporaryFailure(DeliveryError):
    """4xx, a refused or dropped connection, a timeout: worth trying again later."""


class PermanentFailure(DeliveryError):
    """5xx: the server will not take this message; retrying would not help."""


class Transport(Protocol):
    def send(self, route: SmtpRoute, sender: str, recipients: list[str], data: bytes) -> dict[str, str]:
        """Sends one message; returns the recipients the server refused (others got it)."""
        ...
