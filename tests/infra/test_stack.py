"""`Stack` supervises real processes: a stand-in service (`python -m http.server` serving a `readyz`
file on the ops port) is started, probed, killed, restarted and stopped."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
from responer_cli.devstack.net import port_open
from responer_cli.devstack.services import SERVICE_NAMES, ServiceFailed, ServiceSpec, Stack, default_specs

STACK_ARGS = dict(
    nats_url="nats://127.0.0.1:1",
    pg_host="127.0.0.1",
    pg_port=1,
    pg_dbname="db",
    namespace="rtstack",
)


def _dummy(tmp_path, name="dummy", **kw) -> ServiceSpec:
    www = tmp_path / "www"
    www.mkdir(exist_ok=True)
    (www / "readyz").write_text("ok")
    (www / "healthz").write_text("ok")
    return ServiceSpec(
        name, "http.server", args=("--bind", "127.0.0.1", "--directory", str(www), "{ops_port}"), **kw
    )


def test_env_for_wires_every_service(tmp_path):
    stack = Stack(tmp_path, smtp_port=2525, admin_password="pw", **STACK_ARGS)
    assert stack.names == list(SERVICE_NAMES)
    ports = [int(stack.env_for(n)["RESPONER_OPS_PORT"]) for n in SERVICE_NAMES]
    ports += [int(stack.env_for(n)["RESPONER_GRPC_PORT"]) for n in SERVICE_NAMES if n != "gateway"]
    ports.append(stack.http_port)
    assert len(set(ports)) == len(ports)  # every port distinct
    gw = stack.env_for("gateway")
    assert "RESPONER_GRPC_PORT" not in gw
    assert gw["RESPONER_SEARCH_ADDR"] == f"127.0.0.1:{stack.env_for('search')['RESPONER_GRPC_PORT']}"
    assert {k for k in gw if k.endswith("_ADDR")} == {
        f"RESPONER_{n.upper()}_ADDR" for n in ("ingest", "search", "outbox", "threading", "routing")
    }
    assert gw["RESPONER_ADMIN_PASSWORD"] == "pw" and gw["RESPONER_SESSION_SECRET"]
    ingest = stack.env_for("ingest")
    from cryptography.fernet import Fernet

    Fernet(ingest["RESPONER_SECRET_KEY"].encode())  # a valid Fernet key
    assert stack.env_for("outbox")["RESPONER_SMTP_PORT"] == "2525"
    assert "RESPONER_SMTP_PORT" not in ingest
    assert all(stack.env_for(n)["RESPONER_NAMESPACE"] == "rtstack" for n in SERVICE_NAMES)
    assert stack.argv("search")[1:] == ["-m", "responer_search"]
    assert stack.gateway_url == f"http://127.0.0.1:{stack.http_port}"
    assert [s.module for s in default_specs()] == [f"responer_{n}" for n in SERVICE_NAMES]


def test_start_kill_restart_stop(tmp_path, monkeypatch):
    monkeypatch.setenv("RESPONER_LEAK", "from-outside")
    stack = Stack(tmp_path / "state", specs=[_dummy(tmp_path)], **STACK_ARGS)
    try:
        stack.start_all(timeout=15)
        pid = stack.pid("dummy")
        assert stack.is_ready("dummy")
        environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        assert b"RESPONER_NAMESPACE=rtstack" in environ
        assert not any(e.startswith(b"RESPONER_LEAK=") for e in environ)
        assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"  # no TTY stdin

        stack.kill("dummy", signal.SIGKILL)
        assert not stack.running("dummy")
        assert stack.exit_code("dummy") == -signal.SIGKILL
        assert stack.crashed() == []  # we killed it on purpose

        new_pid = stack.restart("dummy")
        assert new_pid != pid and stack.is_ready("dummy") and stack.restarts["dummy"] == 1
        assert "starting" in stack.log_tail("dummy")

        # an unexpected death is reported by crashed()
        os.kill(new_pid, signal.SIGKILL)
        for _ in range(50):
            if stack.crashed():
                break
            time.sleep(0.05)
        assert stack.crashed() == ["dummy"]
        stack.start("dummy")
        stack.wait_ready("dummy", 10)
    finally:
        codes = stack.stop_all(grace=5)
    assert set(codes) == {"dummy"}
    assert not port_open("127.0.0.1", stack.ops_ports["dummy"])


def test_wait_ready_reports_a_service_that_dies(tmp_path):
    spec = ServiceSpec("broken", "responer_no_such_module_xyz")
    stack = Stack(tmp_path, specs=[spec], **STACK_ARGS)
    stack.start("broken")
    with pytest.raises(ServiceFailed, match="exited with code 1") as err:
        stack.wait_ready("broken", timeout=15)
    assert "No module named" in str(err.value)


def test_stop_all_escalates_to_sigkill(tmp_path):
    # A service that ignores SIGTERM is killed after the grace period.
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    spec = ServiceSpec("stubborn", "runpy", args=())
    stack = Stack(tmp_path, specs=[spec], python=sys.executable, **STACK_ARGS)
    stack.argv = lambda name: [sys.executable, str(script)]  # type: ignore[method-assign]
    stack.start("stubborn")
    for _ in range(100):
        if "up" in stack.log_tail("stubborn"):
            break
        time.sleep(0.05)
    started = time.monotonic()
    codes = stack.stop_all(grace=0.5)
    assert codes == {"stubborn": -signal.SIGKILL}
    assert time.monotonic() - started < 5


def test_env_for_provides_every_required_setting_of_the_real_services(tmp_path, monkeypatch):
    """The devstack and the services agree: each service's Settings loads from exactly env_for(name)."""
    import importlib

    stack = Stack(tmp_path, **STACK_ARGS)
    for name in SERVICE_NAMES:
        settings_cls = importlib.import_module(f"responer_{name}.config").Settings
        env = stack.env_for(name)
        fields = settings_cls.model_fields
        for field_name, field in fields.items():
            if field.is_required():
                assert f"RESPONER_{field_name.upper()}" in env, (name, field_name)
        with monkeypatch.context() as m:
            for key in [k for k in os.environ if k.startswith("RESPONER_")]:
                m.delenv(key)
            for key, value in env.items():
                m.setenv(key, value)
            settings = settings_cls()
        assert settings.namespace == "rtstack"
        assert settings.ops_port == stack.ops_ports[name]
        if "mail_domain" in fields:
            assert settings.mail_domain == stack.mail_domain
