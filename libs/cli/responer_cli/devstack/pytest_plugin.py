"""Session fixtures with real servers for every test tier (registered as the `responer` pytest11 plugin,
so tests under services/*/tests and libs/*/tests get them as well as tests/).

Fixtures: responer_state_dir, pg_server, pg_database, nats_server, nats_url, namespace, fresh_namespace,
dovecot, imap_account, smtp_catcher, make_stack, stack, chromium_path. Servers that cannot start fail the test
with the reason; only dovecot and chromium (installed by `make install`) skip when they are absent.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from responer_cli.devstack.dovecot import Dovecot, DovecotMissing
from responer_cli.devstack.nats import NatsServer, delete_streams, ensure_nats
from responer_cli.devstack.postgres import PgServer, create_database, drop_database, ensure_postgres
from responer_cli.devstack.services import ServiceFailed, Stack
from responer_cli.devstack.smtp import SmtpCatcher


@dataclass(frozen=True)
class PgParams:
    host: str
    port: int
    dbname: str
    user: str
    password: str

    @property
    def dsn(self) -> str:
        pw = f":{self.password}" if self.password else ""
        return f"postgresql://{self.user}{pw}@{self.host}:{self.port}/{self.dbname}"

    def responer_env(self) -> dict[str, str]:
        """The RESPONER_PG_* variables a service reads."""
        return {
            "RESPONER_PG_HOST": self.host,
            "RESPONER_PG_PORT": str(self.port),
            "RESPONER_PG_DBNAME": self.dbname,
            "RESPONER_PG_USER": self.user,
            "RESPONER_PG_PASSWORD": self.password,
        }

    def eventsourcing_env(self, schema: str | None = None) -> dict[str, str]:
        """Environment for an eventsourcing Application on this database."""
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
        }
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        return env


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    user: str
    password: str
    server: Dovecot

    def append(self, raw: bytes, folder: str = "INBOX", flags=()) -> int:
        return self.server.append(self.user, self.password, raw, folder, flags)

    def client(self):
        return self.server.client(self.user, self.password)


@pytest.fixture(scope="session")
def responer_state_dir() -> Iterator[Path]:
    """/tmp/responer-test-<pid>: world-traversable, removed at the end (RESPONER_KEEP_STATE=1 keeps it)."""
    path = Path(tempfile.gettempdir()) / f"responer-test-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    yield path
    if not os.environ.get("RESPONER_KEEP_STATE"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(responer_state_dir: Path) -> Iterator[PgServer]:
    try:
        server = ensure_postgres(responer_state_dir)
    except Exception as exc:
        pytest.fail(f"PostgreSQL could not be reached or started: {exc}", pytrace=False)
    yield server
    if server.origin == "private":  # Debian's cluster, even if we started it, stays up for the next run
        server.stop()


def _fresh_database(pg_server: PgServer) -> Iterator[PgParams]:
    name = f"responer_t_{secrets.token_hex(4)}"
    create_database(pg_server, name)
    yield PgParams(pg_server.host, pg_server.port, name, pg_server.user, pg_server.password)
    try:
        drop_database(pg_server, name)
    except Exception as exc:  # the server may have been killed by a fault test; say so, don't mask results
        print(f"warning: could not drop test database {name}: {exc}")


@pytest.fixture(scope="session")
def pg_database(pg_server: PgServer) -> Iterator[PgParams]:
    """A fresh database `responer_t_<hex>` for this test session, dropped at the end."""
    yield from _fresh_database(pg_server)


@pytest.fixture
def private_database(pg_server: PgServer) -> Iterator[PgParams]:
    """A fresh database for one test: for a service run in-process next to the session's stack, which
    would otherwise share (and act on) the stack's event stores."""
    yield from _fresh_database(pg_server)


@pytest.fixture(scope="session")
def nats_server(responer_state_dir: Path) -> Iterator[NatsServer]:
    try:
        server = ensure_nats(responer_state_dir)
    except Exception as exc:
        pytest.fail(f"NATS with JetStream could not be reached or started: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture(scope="session")
def namespace(nats_server: NatsServer) -> Iterator[str]:
    """`rt<hex>`: this run's RESPONER_NAMESPACE; its streams (`RT<HEX>_*`) are deleted at the end."""
    ns = f"rt{secrets.token_hex(4)}"
    yield ns
    if not nats_server.started_by_us:  # a private server goes away with its store anyway
        try:
            delete_streams(nats_server.url, ns)
        except Exception as exc:
            print(f"warning: could not delete streams of namespace {ns}: {exc}")


@pytest.fixture
def fresh_namespace(nats_server: NatsServer) -> Iterator[str]:
    """A namespace of its own for one test (streams start empty), deleted afterwards. Use it when a test
    reads a whole stream and must not see what other tests in the session published."""
    ns = f"rt{secrets.token_hex(4)}"
    yield ns
    try:
        delete_streams(nats_server.url, ns)
    except Exception as exc:
        print(f"warning: could not delete streams of namespace {ns}: {exc}")


@pytest.fixture(scope="session")
def dovecot(responer_state_dir: Path) -> Iterator[Dovecot]:
    server = Dovecot(responer_state_dir)
    try:
        server.start()
    except DovecotMissing as exc:
        pytest.skip(str(exc))
    except Exception as exc:
        pytest.fail(f"dovecot could not be started: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def imap_account(dovecot: Dovecot) -> ImapAccount:
    """A fresh, empty IMAP login on the session's dovecot."""
    user = f"u{secrets.token_hex(5)}@imap.responer.test"
    password = secrets.token_urlsafe(10)
    dovecot.add_user(user, password)
    return ImapAccount(dovecot.host, dovecot.port, user, password, dovecot)


@pytest.fixture(scope="session")
def smtp_catcher(responer_state_dir: Path) -> Iterator[SmtpCatcher]:
    catcher = SmtpCatcher("127.0.0.1", 0, directory=responer_state_dir / "smtp-catcher").start()
    yield catcher
    catcher.stop()


@pytest.fixture(scope="session")
def make_stack(
    responer_state_dir: Path,
    pg_database: PgParams,
    nats_server: NatsServer,
    namespace: str,
    smtp_catcher: SmtpCatcher,
) -> Iterator[Callable[..., Stack]]:
    """Factory for extra stacks (e.g. fault tests pointing at their own NATS); stopped at the end.

    Keyword arguments override the defaults of `Stack(...)`; each call gets its own state dir and ports.
    """
    made: list[Stack] = []

    def factory(**overrides: Any) -> Stack:
        kwargs: dict[str, Any] = {
            "nats_url": nats_server.url,
            "pg_host": pg_database.host,
            "pg_port": pg_database.port,
            "pg_dbname": pg_database.dbname,
            "pg_user": pg_database.user,
            "pg_password": pg_database.password,
            "namespace": namespace,
            "smtp_host": smtp_catcher.host,
            "smtp_port": smtp_catcher.port,
            "mail_domain": "responer.test",
            "admin_email": "admin@example.test",
            "tenant_name": "Test Tenant",
            "idle_timeout": 2,
            "poll_interval": 1,
            "log_level": "INFO",
        }
        kwargs.update(overrides)
        state = kwargs.pop("state_dir", None) or responer_state_dir / f"stack-{len(made)}"
        stack = Stack(state, **kwargs)
        made.append(stack)
        return stack

    yield factory
    for stack in made:
        stack.stop_all()


@pytest.fixture(scope="session")
def stack(make_stack: Callable[..., Stack]) -> Stack:
    """All six services running against this session's PostgreSQL database, NATS namespace and SMTP
    catcher. Attributes: gateway_url, admin_email, admin_password, tenant_name, secret_key, namespace,
    ops_ports, grpc_ports, http_port; methods kill/restart/stop/start/wait_ready/log_tail."""
    s = make_stack()
    try:
        s.start_all(timeout=float(os.environ.get("RESPONER_STACK_TIMEOUT", "90")))
    except ServiceFailed as exc:
        s.stop_all()
        pytest.fail(f"the Responer stack did not start: {exc}", pytrace=False)
    return s


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("chromium is not installed; run `make install` (apt-get install chromium)")
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the stack gets the tail of every service's log in its report."""
    report = yield
    if not report.failed or "stack" not in getattr(item, "fixturenames", ()):
        return report
    stack = getattr(item, "funcargs", {}).get("stack")
    if isinstance(stack, Stack):
        for name in stack.names:
            text = stack.log_tail(name, lines=int(os.environ.get("RESPONER_LOG_TAIL", "30")))
            if text:
                report.sections.append((f"service log: {name} ({stack.log_path(name)})", text))
    return report


@pytest.fixture(scope="session")
def corpus(request: pytest.FixtureRequest) -> Path:
    """The shared real-mail corpus, read in place (../shared/corpus next to the repository)."""
    path = Path(request.config.rootpath).resolve().parent / "shared" / "corpus"
    if not path.is_dir():
        pytest.skip(f"real-mail corpus not found at {path} (expected ../shared/corpus beside the repo)")
    return path
