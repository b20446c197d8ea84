"""`python -m responer_gateway`: the public HTTP API and web UI, plus the relay of gateway events."""

from __future__ import annotations

from responer_gateway import bootstrap
from responer_gateway.config import Settings


def main() -> int:
    settings = Settings()  # type: ignore[call-arg]  # required values come from the environment
    return bootstrap.build(settings).run()
