"""`responer dev up` (what `make up` runs) brings up the product with the demo mailbox, is idempotent on
a second run, and stops everything it started on SIGTERM. Runs against this session's PostgreSQL and
NATS, with its own database and namespace so a developer's `make up` data is never touched."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from responer_cli.demo import DEMO_ADDRESS, demo_messages
from responer_cli.devstack.net import free_port, port_open
from responer_cli.devstack.postgres import drop_database

pytestmark = pytest.mark.e2e  # ~35 s: the whole product three times

BANNER = "Responer is running"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _up(state: Path, port: int, db: str, ns: str, env: dict) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "responer_cli.main",
            "dev",
            "up",
            "--state-dir",
            str(state),
            "--http-port",
            str(port),
        ]
        + ["--database", db, "--namespace", ns],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 150
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if BANNER in line:
            # the rest of the banner
            for _ in range(6):
                lines.append(proc.stdout.readline().rstrip())
            return proc, lines
    proc.kill()
    pytest.fail("dev up did not come up:\n" + "\n".join(lines))


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    children = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    for child in children:
        assert (
            not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
        )
    return proc.returncode, rest


def _api(base: str, path: str, token: str | None = None, body: dict | None = None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_dev_up_serves_the_demo_and_stops_cleanly(responer_state_dir, pg_server, nats_server, tmp_path):
    if not Path("/usr/sbin/dovecot").exists():
        pytest.skip("dovecot is not installed; run `make install`")
    state = responer_state_dir / "dev-up"
    db, ns = f"responer_t_devup_{secrets.token_hex(3)}", f"rtdev{secrets.token_hex(3)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESPONER_")}
    env |= {
        "RESPONER_DEV_PG_HOST": pg_server.host,
        "RESPONER_DEV_PG_PORT": str(pg_server.port),
        "RESPONER_DEV_PG_USER": pg_server.user,
        "RESPONER_DEV_PG_PASSWORD": pg_server.password,
        "RESPONER_DEV_NATS_URL": nats_server.url,
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        proc, lines = _up(state, port, db, ns, env)
        text = "\n".join(lines)
        assert f"http://127.0.0.1:{port}/" in text
        assert f"registered the demo mailbox {DEMO_ADDRESS}" in text
        assert f"appended {len(demo_messages())} demo messages" in text
        password = json.loads((state / "secrets.json").read_text())["admin_password"]
        assert password in text  # the login is printed

        token = _api(
            base, "/api/auth/login", body={"email": "admin@demo.responer.test", "password": password}
        )["token"]
        mailboxes = _api(base, "/api/mailboxes", token)
        mailboxes = mailboxes if isinstance(mailboxes, list) else next(iter(mailboxes.values()))
        assert [m["address"] for m in mailboxes] == [DEMO_ADDRESS]

        code, rest = _stop(proc)
        assert code == 0, rest
        assert not port_open("127.0.0.1", port)

        # Second run: same secrets, nothing registered or appended twice.
        proc, lines = _up(state, port, db, ns, env)
        text = "\n".join(lines)
        assert "registered the demo mailbox" not in text and "appended" not in text
        assert password in text
        code, rest = _stop(proc)
        assert code == 0, rest

        # `make clean` forgets the state dir: the database it owned is recreated, not half-reused
        # (its Fernet key, admin password and mailbox ports are gone with the state dir).
        shutil.rmtree(state)
        proc, lines = _up(state, port, db, ns, env)
        text = "\n".join(lines)
        assert f"recreated database {db}" in text
        assert "registered the demo mailbox" in text
        new_password = json.loads((state / "secrets.json").read_text())["admin_password"]
        assert new_password != password
        token = _api(
            base, "/api/auth/login", body={"email": "admin@demo.responer.test", "password": new_password}
        )
        assert token["token"]
        code, rest = _stop(proc)
        assert code == 0, rest
    finally:
        drop_database(pg_server, db)
        from responer_cli.devstack.nats import delete_streams

        delete_streams(nats_server.url, ns)
