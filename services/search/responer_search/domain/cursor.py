"""Keyset cursors for thread lists: an opaque token for (last_message_at, thread_id) of the last row."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


class InvalidCursor(ValueError):
    """The client sent a cursor this service did not issue."""


@dataclass(frozen=True)
class Cursor:
    last_message_at: datetime
    thread_id: str

    def encode(self) -> str:
        # Integer microseconds, not an ISO string: the keyset comparison must be exact.
        micros = (self.last_message_at - _EPOCH) // _MICRO
        raw = f"1:{micros}:{self.thread_id}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        """None for an empty token (the first page); InvalidCursor for anything we did not issue."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            version, micros, thread_id = raw.split(":", 2)
            if version != "1" or not thread_id:
                raise ValueError(raw)
            return cls(_EPOCH + int(micros) * _MICRO, thread_id)
        except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError) as exc:
            raise InvalidCursor("cursor is not valid; pass back next_cursor exactly as received") from exc


MAX_OFFSET = 10_000


def encode_offset(offset: int) -> str:
    """A cursor for results ordered by relevance: how many results the client has seen."""
    return base64.urlsafe_b64encode(f"2:{offset}".encode()).decode("ascii").rstrip("=")


def decode_offset(token: str) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        version, offset = raw.split(":", 1)
        value = int(offset)
        if version != "2" or not 0 < value <= MAX_OFFSET:
            raise ValueError(raw)
        return value
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidCursor("cursor is not valid; pass back next_cursor exactly as received") from exc
