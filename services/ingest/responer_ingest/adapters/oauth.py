"""OAuth2 access tokens for IMAP (XOAUTH2 / OAUTHBEARER) from a stored refresh token.

The token endpoint is data (Microsoft 365, Google or any other provider): a standard RFC 6749 §6
refresh request. Access tokens live only in memory; a rotated refresh token is handed back to be
stored encrypted. Tokens and secrets never appear in a log line or an exception message.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from responer_ingest.application import Login


class TokenError(RuntimeError):
    """The token endpoint refused or could not be reached; the message names no secret."""


@dataclass
class _Cached:
    token: str
    expires_at: float


def refresh_access_token(login: Login, timeout: float = 15.0) -> tuple[str, int, str]:
    """(access token, lifetime in seconds, refresh token to keep: the new one if rotated)."""
    form = {"grant_type": "refresh_token", "refresh_token": login.refresh_token, "client_id": login.client_id}
    if login.client_secret:
        form["client_secret"] = login.client_secret
    if login.scope:
        form["scope"] = login.scope
    request = urllib.request.Request(
        login.token_endpoint,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured endpoint
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read() or b"{}")
        except ValueError:
            error = {}
        code = str(error.get("error", ""))[:60]
        raise TokenError(f"token endpoint answered {exc.code} {code}".strip()) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TokenError(f"token endpoint unreachable: {type(exc).__name__}: {reason}") from None
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenError("token endpoint answered without an access_token")
    lifetime = int(body.get("expires_in") or 3600)
    return token, lifetime, str(body.get("refresh_token") or login.refresh_token)


class TokenCache:
    """Access tokens per mailbox, refreshed a minute before they expire (or at once after an
    authentication failure, with force=True)."""

    def __init__(self, on_rotated: Callable[[str, str], None], timeout: float = 15.0) -> None:
        self.on_rotated = on_rotated
        self.timeout = timeout
        self._tokens: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def access_token(self, key: str, login: Login, force: bool = False) -> str:
        with self._lock:
            cached = self._tokens.get(key)
            if cached and not force and cached.expires_at > time.monotonic() + 60:
                return cached.token
        token, lifetime, refresh = refresh_access_token(login, self.timeout)
        with self._lock:
            self._tokens[key] = _Cached(token, time.monotonic() + lifetime)
        if refresh != login.refresh_token:
            self.on_rotated(key, refresh)
        return token

    def forget(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)
