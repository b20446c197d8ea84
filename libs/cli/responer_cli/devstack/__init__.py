"""Real servers for `responer dev up` and for the test suites: PostgreSQL, NATS JetStream, dovecot IMAP,
an SMTP catcher, and Responer's own services as supervised processes.

The same code starts the stack for a person and for pytest, so what the tests prove is what `make up` runs.
Nothing here connects or starts anything at import time.
"""

from responer_cli.devstack.dovecot import Dovecot, DovecotMissing
from responer_cli.devstack.nats import NatsServer, delete_streams, ensure_nats, start_private_nats
from responer_cli.devstack.postgres import (
    PgServer,
    create_database,
    database_exists,
    drop_database,
    ensure_postgres,
    start_private_postgres,
)
from responer_cli.devstack.services import SERVICE_NAMES, ServiceFailed, ServiceSpec, Stack, default_specs
from responer_cli.devstack.smtp import CaughtMessage, SmtpCatcher

__all__ = [
    "SERVICE_NAMES",
    "CaughtMessage",
    "Dovecot",
    "DovecotMissing",
    "NatsServer",
    "PgServer",
    "ServiceFailed",
    "ServiceSpec",
    "SmtpCatcher",
    "Stack",
    "create_database",
    "database_exists",
    "default_specs",
    "delete_streams",
    "drop_database",
    "ensure_nats",
    "ensure_postgres",
    "start_private_nats",
    "start_private_postgres",
]
