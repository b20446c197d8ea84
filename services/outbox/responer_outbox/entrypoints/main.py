"""`python -m responer_outbox`: the outbox service process."""

from __future__ import annotations

from responer_outbox import bootstrap
from responer_outbox.config import Settings


def main() -> int:
    settings = Settings()
    service = bootstrap.build(settings)
    return service.run()
