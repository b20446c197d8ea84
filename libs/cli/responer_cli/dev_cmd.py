"""`responer dev up`: the whole product on one machine, with a demo mailbox full of realistic mail.

PostgreSQL and NATS are reused when running (else started), dovecot serves the demo mailbox, an SMTP
catcher keeps outgoing replies as .eml files, and every service runs as its own supervised process.
Secrets (Fernet key, passwords) are generated once and kept in <state-dir>/secrets.json, so a second
`make up` finds the same data, the same mailbox and the same login.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

DEV_DATABASE = "responer_dev"
ADMIN_EMAIL = "admin@demo.responer.test"
TENANT_NAME = "Sklep Demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    dev = subparsers.add_parser("dev", help="run Responer on this machine (make up)")
    actions = dev.add_subparsers(dest="dev_command", metavar="ACTION")
    up = actions.add_parser(
        "up",
        help="start PostgreSQL, NATS, dovecot, an SMTP catcher and all services, with demo data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument(
        "--state-dir", default=".state/dev", help="data, logs and caught mail (default: %(default)s)"
    )
    up.add_argument("--http-port", type=int, default=8080, help="web UI and API port (default: %(default)s)")
    up.add_argument("--no-demo", action="store_true", help="do not create the demo mailbox or its mail")
    up.add_argument("--log-level", default="INFO")
    up.add_argument("--database", default=DEV_DATABASE, help="PostgreSQL database (default: %(default)s)")
    up.add_argument(
        "--namespace", default="responer", help="NATS subject/stream prefix (default: %(default)s)"
    )
    up.set_defaults(func=run_up)
    dev.set_defaults(func=lambda args: dev.print_help())


def say(text: str) -> None:
    print(f"[dev] {text}", flush=True)


def load_secrets(state_dir: Path) -> dict[str, str]:
    """Secrets generated on the first run and reused after: the data encrypted with them stays readable."""
    from cryptography.fernet import Fernet

    path = state_dir / "secrets.json"
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text())
    defaults = {
        "secret_key": lambda: Fernet.generate_key().decode(),
        "session_secret": lambda: secrets.token_urlsafe(32),
        "admin_password": lambda: secrets.token_urlsafe(9),
        "mailbox_password": lambda: secrets.token_urlsafe(12),
        # ties the database (and the streams of a shared NATS) to this state dir, see claim_database()
        "instance_id": lambda: secrets.token_hex(8),
    }
    changed = False
    for key, make in defaults.items():
        if not data.get(key):
            data[key] = make()
            changed = True
    if changed:
        path.write_text(json.dumps(data, indent=2) + "\n")
        path.chmod(0o600)
    return data


def claim_database(pg, name: str, instance_id: str) -> str:
    """Make `name` this state dir's database: "created", "kept", or "recreated" when it was made by
    another state dir (e.g. after `make clean` against a shared PostgreSQL), whose secrets, admin
    password and mailbox ports no longer exist, so its data could not be used anyway."""
    from responer_cli.devstack import create_database, drop_database

    created = create_database(pg, name)
    with pg.connect(name, autocommit=True) as conn:
        conn.execute("create table if not exists responer_dev_instance (id text not null)")
        row = conn.execute("select id from responer_dev_instance").fetchone()
        if row is None and created:
            conn.execute("insert into responer_dev_instance values (%s)", (instance_id,))
            return "created"
        if row is not None and row[0] == instance_id:
            return "kept"
    drop_database(pg, name)
    create_database(pg, name)
    with pg.connect(name, autocommit=True) as conn:
        conn.execute("create table responer_dev_instance (id text not null)")
        conn.execute("insert into responer_dev_instance values (%s)", (instance_id,))
    return "recreated"


# --- the gateway's public HTTP API ------------------------------------------------------------------------
class ApiError(RuntimeError):
    pass


def api(
    base: str, method: str, path: str, body: Any = None, token: str | None = None, timeout: float = 30
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise ApiError(f"{method} {path} -> HTTP {exc.code}: {detail}") from exc
    return json.loads(raw) if raw else None


def login(base: str, email: str, password: str, timeout: float = 30) -> str:
    """Log in as the seeded admin; retried for a while because the gateway may seed it just after startup."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return api(base, "POST", "/api/auth/login", {"email": email, "password": password})["token"]
        except (ApiError, urllib.error.URLError, OSError, KeyError, TypeError) as exc:
            if time.monotonic() > deadline:
                raise ApiError(f"could not log in as {email}: {exc}") from exc
            time.sleep(1)


def _items(payload: Any) -> list[dict]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in ("items", "mailboxes", "data", "results"):
            if isinstance(payload.get(key), list):
                return payload[key]
    return []


def ensure_demo_mailbox(base: str, token: str, mailbox: dict[str, Any]) -> bool:
    """Register the demo mailbox unless a mailbox with its address exists; True if created now."""
    existing = _items(api(base, "GET", "/api/mailboxes", token=token))
    if any(str(m.get("address", "")).lower() == mailbox["address"].lower() for m in existing):
        return False
    api(base, "POST", "/api/mailboxes", mailbox, token=token, timeout=60)
    return True


# --- up -----------------------------------------------------------------------------------------------
def run_up(args: argparse.Namespace) -> int:
    from responer_cli.demo import DEMO_ADDRESS, DEMO_DOMAIN, demo_messages
    from responer_cli.devstack import (
        Dovecot,
        ServiceFailed,
        SmtpCatcher,
        Stack,
        delete_streams,
        ensure_nats,
        ensure_postgres,
    )
    from responer_cli.devstack.dovecot import stable_port
    from responer_cli.devstack.net import make_traversable, port_open

    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    make_traversable(state_dir)
    if port_open("127.0.0.1", args.http_port):
        say(f"port {args.http_port} is already in use (another `make up`?). Use --http-port / HTTP_PORT=.")
        return 1

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    cleanup = ExitStack()
    try:
        cfg = load_secrets(state_dir)

        pg = ensure_postgres(state_dir)
        cleanup.callback(pg.stop)  # no-op for a server that was already running
        say(f"PostgreSQL {pg.host}:{pg.port} ({'started' if pg.started_by_us else 'already running'})")
        claimed = claim_database(pg, args.database, cfg["instance_id"])
        if claimed != "kept":
            say(f"{claimed} database {args.database}")

        nats = ensure_nats(state_dir)
        cleanup.callback(nats.stop)
        say(f"NATS {nats.url} v{nats.version} ({'started' if nats.started_by_us else 'already running'})")
        if claimed == "recreated" and not nats.started_by_us:
            # A shared NATS still holds the old database's events: start the streams afresh too.
            deleted = delete_streams(nats.url, args.namespace)
            if deleted:
                say(f"deleted the old streams {', '.join(deleted)}")

        dovecot = Dovecot(state_dir)
        dovecot.add_user(DEMO_ADDRESS, cfg["mailbox_password"])
        dovecot.start()
        cleanup.callback(dovecot.stop)
        say(f"IMAP (dovecot) 127.0.0.1:{dovecot.port}")

        catcher = SmtpCatcher(
            "127.0.0.1", stable_port(state_dir / "smtp-port", 2525), state_dir / "outbox-mail"
        )
        catcher.start()
        cleanup.callback(catcher.stop)
        say(f"SMTP catcher 127.0.0.1:{catcher.port} -> {catcher.directory}")

        stack = Stack(
            state_dir,
            nats_url=nats.url,
            pg_host=pg.host,
            pg_port=pg.port,
            pg_dbname=args.database,
            pg_user=pg.user,
            pg_password=pg.password,
            namespace=args.namespace,
            smtp_host=catcher.host,
            smtp_port=catcher.port,
            mail_domain=DEMO_DOMAIN,
            admin_email=ADMIN_EMAIL,
            admin_password=cfg["admin_password"],
            tenant_name=TENANT_NAME,
            secret_key=cfg["secret_key"],
            session_secret=cfg["session_secret"],
            http_port=args.http_port,
            log_level=args.log_level,
            idle_timeout=60,
            poll_interval=15,
        )
        cleanup.callback(stack.stop_all)
        say(f"starting {', '.join(stack.names)} (logs in {stack.log_dir})")
        for name in stack.names:
            stack.start(name)
        try:
            stack.wait_all_ready(timeout=120)
        except ServiceFailed as exc:
            say(f"a service did not become ready: {exc}")
            return 1
        say("all services ready")

        if not args.no_demo:
            _seed_demo(stack, dovecot, cfg, catcher.port, DEMO_ADDRESS, demo_messages)

        print(
            "\n"
            f"  Responer is running:  http://127.0.0.1:{args.http_port}/\n"
            f"  Log in as             {ADMIN_EMAIL}  /  {cfg['admin_password']}\n"
            f"  Demo mailbox          {DEMO_ADDRESS} (IMAP 127.0.0.1:{dovecot.port})\n"
            f"  Outgoing mail caught  {catcher.directory}/\n"
            f"  Service logs          {stack.log_dir}/\n"
            f"  /metrics /healthz     {', '.join(f'{n}:{p}' for n, p in stack.ops_ports.items())}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        _supervise(stack, stop)
        say("stopping")
        return 0
    except KeyboardInterrupt:
        say("stopping")
        return 130
    except Exception as exc:  # a clear line instead of a traceback for the usual setup problems
        say(f"error: {exc}")
        if os.environ.get("RESPONER_DEBUG"):
            raise
        return 1
    finally:
        cleanup.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _seed_demo(stack, dovecot, cfg, smtp_port: int, address: str, demo_messages) -> None:
    token = login(stack.gateway_url, stack.admin_email, stack.admin_password)
    mailbox = {
        "name": "Obsługa klienta (demo)",
        "address": address,
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.port,
        "tls_mode": "plain",
        "username": address,
        "password": cfg["mailbox_password"],
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
    }
    if ensure_demo_mailbox(stack.gateway_url, token, mailbox):
        say(f"registered the demo mailbox {address}")
    if dovecot.count(address, cfg["mailbox_password"]) == 0:
        messages = demo_messages()
        for raw in messages:
            dovecot.append(address, cfg["mailbox_password"], raw)
        say(f"appended {len(messages)} demo messages to {address}")


def _supervise(stack, stop: threading.Event) -> None:
    """Restart crashed services with exponential backoff (1 s .. 60 s, reset after a minute of uptime)."""
    backoff: dict[str, float] = {}
    due: dict[str, float] = {}
    while not stop.wait(0.5):
        now = time.monotonic()
        for name in stack.crashed():
            if name in due:
                continue
            proc = stack.procs[name]
            uptime = now - proc.started_at
            delay = 1.0 if uptime > 60 else min(60.0, backoff.get(name, 0.5) * 2)
            backoff[name] = delay
            due[name] = now + delay
            say(
                f"{name} exited with code {proc.popen.returncode} after {uptime:.0f}s; "
                f"restarting in {delay:.0f}s (log: {stack.log_path(name)})"
            )
        for name, when in list(due.items()):
            if now >= when:
                del due[name]
                stack.start(name)
                stack.restarts[name] += 1
                say(f"{name} restarted (pid {stack.pid(name)})")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(
        run_up(argparse.Namespace(state_dir=".state/dev", http_port=8080, no_demo=False, log_level="INFO"))
    )
