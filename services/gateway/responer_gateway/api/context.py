"""What the HTTP layer needs, built once by bootstrap and shared by every request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from responer_gateway.adapters.grpc_clients import Backends
from responer_gateway.application import GatewayApplication
from responer_gateway.config import Settings
from responer_gateway.security import Tokens


@dataclass
class GatewayContext:
    settings: Settings
    app: GatewayApplication
    backends: Backends
    tokens: Tokens
    # Called after a command saved events, so the relay publishes them at once.
    on_saved: Callable[[], None] = field(default=lambda: None)

    @property
    def timeout(self) -> float:
        return self.settings.grpc_timeout_s
