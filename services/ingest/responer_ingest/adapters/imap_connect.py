"""Opening an IMAP connection step by step, so a failure names its step: dns, tcp, tls, auth, folder.

Used by the sync workers and by the connection test of the API. Reasons are written for the person
who typed the settings and never contain a password or a token.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from responer_ingest.application import Login

# (login, force refresh) -> access token
TokenSource = Callable[[Login, bool], str]


class ConnectError(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


@dataclass
class ProbeResult:
    ok: bool
    stage: str = ""
    reason: str = ""
    folders_found: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)


def _tls_context(ca_file: str = "") -> ssl.SSLContext:
    """The system's trust store, plus a private CA (RESPONER_IMAP_CA_FILE) for servers behind a
    company CA. Certificates and host names are always verified."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def _resolve(host: str, port: int) -> None:
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectError("dns", f"cannot resolve {host!r}: {exc.strerror or exc}") from None


def _describe(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def open_client(
    host: str, port: int, tls_mode: str, login: Login, tokens: TokenSource, timeout: float, ca_file: str = ""
) -> IMAPClient:
    """A logged-in client, or ConnectError with the step that failed."""
    _resolve(host, port)
    use_ssl = tls_mode == "tls"
    context = _tls_context(ca_file) if tls_mode in ("tls", "starttls") else None
    try:
        client = IMAPClient(
            host, port=port, ssl=use_ssl, ssl_context=context if use_ssl else None, timeout=timeout
        )
    except ssl.SSLError as exc:
        raise ConnectError("tls", f"TLS handshake with {host}:{port} failed: {_describe(exc)}") from None
    except socket.gaierror as exc:
        raise ConnectError("dns", f"cannot resolve {host!r}: {exc}") from None
    except (OSError, IMAPClientError) as exc:
        raise ConnectError("tcp", f"cannot connect to {host}:{port}: {_describe(exc)}") from None
    try:
        if tls_mode == "starttls":
            try:
                client.starttls(context)
            except ssl.SSLError as exc:
                raise ConnectError("tls", f"STARTTLS with {host}:{port} failed: {_describe(exc)}") from None
            except IMAPClientError as exc:
                raise ConnectError("tls", f"the server refused STARTTLS: {exc}") from None
        _login(client, login, tokens)
    except BaseException:
        _close(client)
        raise
    return client


def _login(client: IMAPClient, login: Login, tokens: TokenSource) -> None:
    try:
        if login.method == "password":
            client.login(login.username, login.password)
            return
        for force in (False, True):  # a cached token the server refuses is refreshed once
            try:
                token = tokens(login, force)
            except Exception as exc:  # noqa: BLE001 - TokenError and anything the HTTP client raises
                raise ConnectError("auth", f"could not get an OAuth2 access token: {exc}") from None
            try:
                if login.method == "xoauth2":
                    client.oauth2_login(login.username, token)
                else:
                    client.oauthbearer_login(login.username, token)
                return
            except LoginError:
                if force:
                    raise
    except LoginError as exc:
        raise ConnectError(
            "auth", f"the server refused the login of {login.username!r}: {_server_text(exc)}"
        ) from None
    except ssl.SSLError as exc:
        raise ConnectError("tls", f"TLS failed during login: {_describe(exc)}") from None
    except (OSError, IMAPClientError) as exc:
        raise ConnectError("auth", f"login failed: {_describe(exc)}") from None


def _server_text(exc: BaseException) -> str:
    text = str(exc)
    return text[:200] if text else "authentication failed"


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def probe(
    host: str,
    port: int,
    tls_mode: str,
    folders: list[str],
    login: Login,
    tokens: TokenSource,
    timeout: float,
    ca_file: str = "",
) -> ProbeResult:
    """Every step of a sync's connection, stopping at the first that fails."""
    try:
        _resolve(host, port)
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            raise ConnectError("tcp", f"cannot connect to {host}:{port}: {_describe(exc)}") from None
        client = open_client(host, port, tls_mode, login, tokens, timeout, ca_file)
    except ConnectError as exc:
        return ProbeResult(False, exc.stage, exc.reason)
    try:
        capabilities = [c.decode() if isinstance(c, bytes) else str(c) for c in client.capabilities()]
        present = {name for _, _, name in client.list_folders()}
        missing = [f for f in folders if f not in present and f.upper() != "INBOX"]
        if missing:
            return ProbeResult(
                False,
                "folder",
                f"folder {missing[0]!r} does not exist; the server has: {', '.join(sorted(present))[:300]}",
                sorted(present),
                capabilities,
            )
        for folder in folders:
            try:
                client.select_folder(folder, readonly=True)
            except IMAPClientError as exc:
                return ProbeResult(
                    False, "folder", f"cannot open folder {folder!r}: {exc}", sorted(present), capabilities
                )
        return ProbeResult(True, folders_found=sorted(present), capabilities=capabilities)
    except (OSError, IMAPClientError) as exc:
        return ProbeResult(False, "folder", f"listing folders failed: {_describe(exc)}")
    finally:
        _close(client)
