from __future__ import annotations

from responer_runtime.settings import RuntimeSettings


class Settings(RuntimeSettings):
    # Domain of the Message-IDs our outbox writes: mail carrying them is our own (loop detection).
    mail_domain: str = "responer.local"
