"""PostgreSQL for the dev stack and the tests: reuse a running server, start Debian's cluster, or run a
private throwaway cluster under a state dir.

`initdb` and `pg_ctl` refuse to run as root, so as root they run through `runuser -u postgres`, and every
parent of the private data dir must be traversable by that user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from responer_cli.devstack.net import free_port, make_traversable, port_open, tail, traversable_by_others

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5432


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL could be reached or started; the message says what was tried."""


@dataclass
class PgServer:
    host: str
    port: int
    user: str = "postgres"
    password: str = ""
    # How we got it: "external" (was running), "cluster" (we started Debian's cluster), "private".
    origin: str = "external"
    data_dir: Path | None = None
    _stop_cmd: list[str] | None = field(default=None, repr=False)

    @property
    def started_by_us(self) -> bool:
        return self.origin != "external"

    def dsn(self, dbname: str = "postgres") -> str:
        pw = f" password={self.password}" if self.password else ""
        return f"host={self.host} port={self.port} user={self.user}{pw} dbname={dbname}"

    def connect(self, dbname: str = "postgres", **kwargs):
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname,
            connect_timeout=5,
            **kwargs,
        )

    def stop(self) -> None:
        """Stop the server if we started it; a server that was already running is left alone."""
        if self._stop_cmd is None:
            return
        subprocess.run(self._stop_cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
        self._stop_cmd = None


def _pg_bindirs() -> list[Path]:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(p), reverse=True)
    return [Path(d) for d in dirs if Path(d, "initdb").exists()]


def _version_key(path: str) -> tuple[int, ...]:
    ver = Path(path).parent.name
    return tuple(int(x) for x in ver.split(".") if x.isdigit())


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _env_server() -> PgServer | None:
    """RESPONER_DEV_PG_HOST/PORT/USER/PASSWORD point the dev stack and the tests at a given server."""
    host = os.environ.get("RESPONER_DEV_PG_HOST")
    if not host:
        return None
    return PgServer(
        host=host,
        port=int(os.environ.get("RESPONER_DEV_PG_PORT", DEFAULT_PORT)),
        user=os.environ.get("RESPONER_DEV_PG_USER", "postgres"),
        password=os.environ.get("RESPONER_DEV_PG_PASSWORD", ""),
    )


def _usable(server: PgServer) -> bool:
    try:
        with server.connect() as conn:
            conn.execute("select 1")
        return True
    except Exception:
        return False


def ensure_postgres(state_dir: Path | str) -> PgServer:
    """A PostgreSQL we can create databases on: the running one, Debian's cluster, or a private one."""
    tried: list[str] = []
    env = _env_server()
    if env is not None:
        if _usable(env):
            return env
        raise PostgresUnavailable(f"RESPONER_DEV_PG_HOST={env.host}:{env.port} does not accept connections")

    local = PgServer(DEFAULT_HOST, DEFAULT_PORT)
    if port_open(DEFAULT_HOST, DEFAULT_PORT):
        if _usable(local):
            return local
        tried.append("127.0.0.1:5432 is open but refused user 'postgres' without a password")
    else:
        started = _start_debian_cluster()
        if started is not None:
            return started
        tried.append("no Debian cluster could be started with pg_ctlcluster")

    try:
        return start_private_postgres(state_dir)
    except PostgresUnavailable as exc:
        tried.append(str(exc))
    raise PostgresUnavailable("PostgreSQL unavailable: " + "; ".join(tried) + ". Run `make install`.")


def _start_debian_cluster() -> PgServer | None:
    if not shutil.which("pg_ctlcluster") or not os.path.isdir("/etc/postgresql"):
        return None
    for ver in sorted(os.listdir("/etc/postgresql"), reverse=True):
        if not os.path.isdir(f"/etc/postgresql/{ver}/main"):
            continue
        proc = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", ver, "main", "start"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
        server = PgServer(DEFAULT_HOST, DEFAULT_PORT, origin="cluster")
        if proc.returncode == 0 and _wait_usable(server):
            server._stop_cmd = [
                "pg_ctlcluster",
                "--skip-systemctl-redirect",
                ver,
                "main",
                "stop",
                "-m",
                "fast",
            ]
            return server
    return None


def _wait_usable(server: PgServer, timeout: float = 20.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _usable(server):
            return True
        time.sleep(0.1)
    return False


def _private_root(state_dir: Path) -> Path:
    """Where the private cluster lives; outside state_dir if postgres could not reach into it."""
    root = state_dir / "pg"
    make_traversable(state_dir)
    if os.geteuid() == 0 and not traversable_by_others(state_dir):
        # e.g. a home directory with mode 0700: keep the cluster under /tmp instead, stable per state dir.
        import hashlib

        digest = hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:10]
        root = Path(tempfile.gettempdir()) / f"responer-pg-{digest}"
    return root


def start_private_postgres(state_dir: Path | str, port: int | None = None) -> PgServer:
    """Start (and if needed initdb) a private cluster with fsync off on a free port.

    An existing data dir is reused, so `make up` keeps its data across runs.
    """
    bindirs = _pg_bindirs()
    if not bindirs:
        raise PostgresUnavailable("no /usr/lib/postgresql/*/bin/initdb found")
    bindir = bindirs[0]
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    root = _private_root(state_dir)
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        if data.exists():
            shutil.rmtree(data)
        proc = subprocess.run(
            _as_postgres(
                [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
                + ["--locale=C.UTF-8", "--no-sync"]
            ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
            check=False,
            cwd="/",
        )
        if proc.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {proc.stderr.decode(errors='replace')[-800:]}")
    pidfile = data / "postmaster.pid"
    if pidfile.exists():
        # A previous run died without stopping it: try a clean stop, pg_ctl handles a stale pid file.
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
            cwd="/",
        )
    port = port or free_port()
    log = root / "server.log"
    opts = (
        f"-c listen_addresses={DEFAULT_HOST} -p {port} -k {root} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    proc = subprocess.run(
        _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", opts, "start"]
        ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=90,
        check=False,
        cwd="/",
    )
    if proc.returncode != 0:
        raise PostgresUnavailable(
            f"pg_ctl start failed: {proc.stderr.decode(errors='replace')[-400:]}\n{tail(log, 20)}"
        )
    server = PgServer(DEFAULT_HOST, port, origin="private", data_dir=data)
    server._stop_cmd = _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
    if not _wait_usable(server):
        server.stop()
        raise PostgresUnavailable(
            f"private PostgreSQL on port {port} did not accept connections\n{tail(log)}"
        )
    return server


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name: {name!r}")
    return '"' + name + '"'


def database_exists(server: PgServer, name: str) -> bool:
    with server.connect(autocommit=True) as conn:
        row = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        return row is not None


def create_database(server: PgServer, name: str) -> bool:
    """Create the database if missing; True if it was created now."""
    if database_exists(server, name):
        return False
    with server.connect(autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {_ident(name)} ENCODING 'UTF8' TEMPLATE template0")
    return True


def drop_database(server: PgServer, name: str) -> None:
    """Drop the database, terminating whoever is still connected to it."""
    with server.connect(autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
