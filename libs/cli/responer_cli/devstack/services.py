"""Responer's services as supervised subprocesses, configured only through RESPONER_* environment variables.

`Stack` allocates every port once, builds each service's environment, starts `python -m responer_<name>`
with its output in `<state_dir>/logs/<name>.log`, waits for `/readyz`, and can kill, restart and stop
them. `responer dev up` and the e2e/fault tests both use it.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from responer_cli.devstack.net import free_ports, tail

SERVICE_NAMES = ("ingest", "threading", "routing", "search", "outbox", "gateway")
# Start order: producers before their consumers, the gateway (which calls everyone over gRPC) last.
GRPC_SERVICES = ("ingest", "threading", "routing", "search", "outbox")


class ServiceFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service. `args` may contain `{ops_port}`, `{grpc_port}`, `{http_port}` placeholders."""

    name: str
    module: str
    args: tuple[str, ...] = ()
    grpc: bool = True
    http: bool = False
    env: dict[str, str] = field(default_factory=dict)


def default_specs() -> list[ServiceSpec]:
    return [
        ServiceSpec(name, f"responer_{name}", grpc=name in GRPC_SERVICES, http=name == "gateway")
        for name in SERVICE_NAMES
    ]


@dataclass
class _Proc:
    popen: subprocess.Popen
    started_at: float
    stopping: bool = False


class Stack:
    def __init__(
        self,
        state_dir: Path | str,
        *,
        nats_url: str,
        pg_host: str,
        pg_port: int,
        pg_dbname: str,
        pg_user: str = "postgres",
        pg_password: str = "",
        namespace: str = "responer",
        smtp_host: str = "127.0.0.1",
        smtp_port: int = 25,
        mail_domain: str = "responer.test",
        admin_email: str = "admin@example.test",
        admin_password: str | None = None,
        tenant_name: str = "Demo",
        secret_key: str | None = None,
        session_secret: str | None = None,
        http_port: int | None = None,
        log_level: str = "INFO",
        idle_timeout: float = 60,
        poll_interval: float = 30,
        specs: list[ServiceSpec] | None = None,
        python: str = sys.executable,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.log_dir = self.state_dir / "logs"
        self.nats_url = nats_url
        self.pg_host, self.pg_port, self.pg_dbname = pg_host, pg_port, pg_dbname
        self.pg_user, self.pg_password = pg_user, pg_password
        self.namespace = namespace
        self.smtp_host, self.smtp_port = smtp_host, smtp_port
        self.mail_domain = mail_domain
        self.admin_email = admin_email
        self.admin_password = admin_password or secrets.token_urlsafe(12)
        self.tenant_name = tenant_name
        self.secret_key = secret_key or _fernet_key()
        self.session_secret = session_secret or secrets.token_urlsafe(32)
        self.log_level = log_level
        self.idle_timeout, self.poll_interval = idle_timeout, poll_interval
        self.python = python
        self.extra_env = dict(extra_env or {})
        self.specs = {s.name: s for s in (specs if specs is not None else default_specs())}
        grpc_names = [name for name, s in self.specs.items() if s.grpc]
        ports = iter(free_ports(len(self.specs) + len(grpc_names) + 1))
        self.ops_ports = {name: next(ports) for name in self.specs}
        self.grpc_ports = {name: next(ports) for name in grpc_names}
        self.http_port = http_port or next(ports)
        self.procs: dict[str, _Proc] = {}
        self.restarts: dict[str, int] = {name: 0 for name in self.specs}

    # -- configuration -------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.specs)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def grpc_addr(self, name: str) -> str:
        return f"127.0.0.1:{self.grpc_ports[name]}"

    def ops_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ops_ports[name]}"

    def env_for(self, name: str) -> dict[str, str]:
        """Exactly the RESPONER_* variables service `name` is configured by."""
        spec = self.specs[name]
        env = {
            "RESPONER_NAMESPACE": self.namespace,
            "RESPONER_NATS_URL": self.nats_url,
            "RESPONER_PG_HOST": self.pg_host,
            "RESPONER_PG_PORT": str(self.pg_port),
            "RESPONER_PG_DBNAME": self.pg_dbname,
            "RESPONER_PG_USER": self.pg_user,
            "RESPONER_PG_PASSWORD": self.pg_password,
            "RESPONER_OPS_PORT": str(self.ops_ports[name]),
            "RESPONER_LOG_LEVEL": self.log_level,
        }
        if spec.grpc:
            env["RESPONER_GRPC_PORT"] = str(self.grpc_ports[name])
        if name == "gateway":
            env["RESPONER_HTTP_PORT"] = str(self.http_port)
            for other in GRPC_SERVICES:
                if other in self.grpc_ports:
                    env[f"RESPONER_{other.upper()}_ADDR"] = self.grpc_addr(other)
            env["RESPONER_SESSION_SECRET"] = self.session_secret
            env["RESPONER_ADMIN_EMAIL"] = self.admin_email
            env["RESPONER_ADMIN_PASSWORD"] = self.admin_password
            env["RESPONER_TENANT_NAME"] = self.tenant_name
        if name == "ingest":
            env["RESPONER_SECRET_KEY"] = self.secret_key
            env["RESPONER_IDLE_TIMEOUT"] = _num(self.idle_timeout)
            env["RESPONER_POLL_INTERVAL"] = _num(self.poll_interval)
        if name == "outbox":
            env["RESPONER_SMTP_HOST"] = self.smtp_host
            env["RESPONER_SMTP_PORT"] = str(self.smtp_port)
        if name in ("outbox", "routing"):
            # outbox writes Message-IDs in this domain; routing recognises our own mail (loops) by it.
            env["RESPONER_MAIL_DOMAIN"] = self.mail_domain
        env.update(spec.env)
        env.update(self.extra_env)
        return env

    def _process_env(self, name: str) -> dict[str, str]:
        # The caller's RESPONER_* variables must not leak into a service: the stack decides them all.
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESPONER_")}
        env.update(self.env_for(name))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def argv(self, name: str) -> list[str]:
        spec = self.specs[name]
        ports = {
            "ops_port": self.ops_ports[name],
            "grpc_port": self.grpc_ports.get(name, 0),
            "http_port": self.http_port,
        }
        return [self.python, "-m", spec.module, *(a.format(**ports) for a in spec.args)]

    # -- lifecycle -----------------------------------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str) -> int:
        """Start one service (no-op if running); returns its pid."""
        current = self.procs.get(name)
        if current is not None and current.popen.poll() is None:
            return current.popen.pid
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(name), "ab") as log:
            log.write(
                f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {' '.join(self.argv(name))}\n".encode()
            )
            log.flush()
            popen = subprocess.Popen(
                self.argv(name),
                env=self._process_env(name),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                # Own process group: a Ctrl-C in the terminal reaches the supervisor only, which then
                # stops the services in order instead of all of them dying at once.
                start_new_session=True,
            )
        self.procs[name] = _Proc(popen, time.monotonic())
        return popen.pid

    def start_all(self, timeout: float = 60.0) -> None:
        for name in self.names:
            self.start(name)
        self.wait_all_ready(timeout)

    def pid(self, name: str) -> int | None:
        proc = self.procs.get(name)
        return proc.popen.pid if proc and proc.popen.poll() is None else None

    def running(self, name: str) -> bool:
        return self.pid(name) is not None

    def is_ready(self, name: str) -> bool:
        return _http_ok(f"{self.ops_url(name)}/readyz")

    def wait_ready(self, name: str, timeout: float = 30.0) -> None:
        """Poll the service's /readyz until it answers 200; raises ServiceFailed with its log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs.get(name)
            if proc is None:
                raise ServiceFailed(f"{name} was not started")
            if proc.popen.poll() is not None:
                raise ServiceFailed(
                    f"{name} exited with code {proc.popen.returncode} before it was ready; "
                    f"log {self.log_path(name)}:\n{self.log_tail(name)}"
                )
            if self.is_ready(name):
                return
            time.sleep(0.1)
        raise ServiceFailed(
            f"{name} not ready after {timeout:.0f}s ({self.ops_url(name)}/readyz); "
            f"log {self.log_path(name)}:\n{self.log_tail(name)}"
        )

    def wait_all_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for name in self.names:
            self.wait_ready(name, max(1.0, deadline - time.monotonic()))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send a signal to a service (default SIGKILL, for fault tests); SIGKILL also reaps it."""
        proc = self.procs.get(name)
        if proc is None or proc.popen.poll() is not None:
            return
        proc.stopping = True
        proc.popen.send_signal(sig)
        if sig == signal.SIGKILL:
            proc.popen.wait(10)

    def stop(self, name: str, grace: float = 10.0) -> int | None:
        """SIGTERM, wait up to `grace`, then SIGKILL; returns the exit code."""
        proc = self.procs.get(name)
        if proc is None:
            return None
        proc.stopping = True
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
            try:
                proc.popen.wait(grace)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(10)
        return proc.popen.returncode

    def restart(self, name: str, *, wait: bool = True, timeout: float = 30.0) -> int:
        self.stop(name)
        pid = self.start(name)
        self.restarts[name] += 1
        if wait:
            self.wait_ready(name, timeout)
        return pid

    def stop_all(self, grace: float = 10.0) -> dict[str, int | None]:
        """SIGTERM everything (gateway first), wait up to `grace` overall, then SIGKILL what is left."""
        order = [n for n in reversed(self.names) if n in self.procs]
        for name in order:
            proc = self.procs[name]
            proc.stopping = True
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name in order:
            popen = self.procs[name].popen
            try:
                popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(10)
        return {name: self.procs[name].popen.returncode for name in order}

    def crashed(self) -> list[str]:
        """Services that exited although nobody asked them to stop."""
        return [n for n, p in self.procs.items() if not p.stopping and p.popen.poll() is not None]

    def exit_code(self, name: str) -> int | None:
        proc = self.procs.get(name)
        return proc.popen.poll() if proc else None

    def log_tail(self, name: str, lines: int = 40) -> str:
        return tail(self.log_path(name), lines)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
        # HTTPException: something that is not our HTTP server answers there (not ready yet).
        return False


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
