"""The devstack's PostgreSQL: the session database works, a private cluster starts even when 5432 is
taken, and the extensions the search backend needs are available."""

from __future__ import annotations

import psycopg
import pytest
from responer_cli.devstack.net import port_open
from responer_cli.devstack.postgres import (
    create_database,
    database_exists,
    drop_database,
    start_private_postgres,
)


def test_session_database_accepts_writes(pg_database):
    with psycopg.connect(pg_database.dsn) as conn:
        conn.execute("create table if not exists infra_probe (v text)")
        conn.execute("insert into infra_probe values ('ok')")
        assert conn.execute("select current_database(), count(*) from infra_probe").fetchone() == (
            pg_database.dbname,
            1,
        )
        conn.rollback()


def test_unaccent_folds_polish_diacritics(pg_database):
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("create extension if not exists unaccent")
        (folded,) = conn.execute("select unaccent('Zażółć gęślą jaźń ŁÓDŹ')").fetchone()
    assert folded == "Zazolc gesla jazn LODZ"


def test_private_cluster_starts_beside_a_running_server(tmp_path_factory, responer_state_dir):
    state = responer_state_dir / "private-pg"
    server = start_private_postgres(state)
    try:
        assert server.port != 5432 and server.origin == "private"
        assert port_open(server.host, server.port)
        assert create_database(server, "probe_db") is True
        assert create_database(server, "probe_db") is False  # idempotent
        with server.connect("probe_db") as conn:
            assert conn.execute("show fsync").fetchone() == ("off",)
        # an open connection does not prevent the drop: it is terminated first
        holder = server.connect("probe_db")
        drop_database(server, "probe_db")
        assert not database_exists(server, "probe_db")
        with pytest.raises(psycopg.OperationalError):
            holder.execute("select 1")
    finally:
        server.stop()
    assert not port_open(server.host, server.port)


def test_private_cluster_keeps_its_data_across_restarts(responer_state_dir):
    state = responer_state_dir / "private-pg"
    server = start_private_postgres(state)
    try:
        create_database(server, "kept")
    finally:
        server.stop()
    again = start_private_postgres(state)
    try:
        assert database_exists(again, "kept")
    finally:
        again.stop()
