"""Gateway settings: the public HTTP endpoint, the gRPC services it calls, sessions and the seeded admin."""

from __future__ import annotations

from pydantic import SecretStr
from responer_runtime.settings import RuntimeSettings


class Settings(RuntimeSettings):
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    ingest_addr: str = "127.0.0.1:50051"
    search_addr: str = "127.0.0.1:50052"
    outbox_addr: str = "127.0.0.1:50053"
    routing_addr: str = "127.0.0.1:50054"
    threading_addr: str = ""  # empty: conversation commands (merge, split, notes, status) answer 503
    session_secret: SecretStr
    session_ttl_s: int = 12 * 3600
    # Cookies marked Secure are dropped by browsers on plain http://127.0.0.1; turn on behind TLS.
    cookie_secure: bool = False
    tenant_name: str = "Demo"
    admin_email: str = "admin@example.com"
    admin_password: SecretStr
    admin_name: str = "Administrator"
    grpc_timeout_s: float = 10.0
