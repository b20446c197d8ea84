"""Typed settings shared by every service. Each service subclasses RuntimeSettings with its own fields.

Everything comes from the environment (prefix RESPONER_). A field without a default is required, so a
missing value fails at boot with pydantic's clear message. Nothing here connects anywhere.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from responer_runtime.esenv import eventsourcing_env


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESPONER_", extra="ignore")

    namespace: str = "responer"
    nats_url: str = "nats://127.0.0.1:4222"
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_dbname: str = "responer"
    pg_user: str = "postgres"
    pg_password: SecretStr = SecretStr("")
    pg_pool_size: int = 3
    ops_host: str = "127.0.0.1"
    ops_port: int = 0
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 0
    log_level: str = "INFO"
    shutdown_grace_s: float = 5.0

    def pg_kwargs(self) -> dict[str, object]:
        return {
            "host": self.pg_host,
            "port": self.pg_port,
            "dbname": self.pg_dbname,
            "user": self.pg_user,
            "password": self.pg_password.get_secret_value(),
        }

    def pg_conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**{k: str(v) for k, v in self.pg_kwargs().items()})

    def es_env(self, schema: str) -> dict[str, str]:
        return eventsourcing_env(
            host=self.pg_host,
            port=self.pg_port,
            dbname=self.pg_dbname,
            user=self.pg_user,
            password=self.pg_password.get_secret_value(),
            schema=schema,
            pool_size=self.pg_pool_size,
        )
