from __future__ import annotations

from responer_runtime.settings import RuntimeSettings


class Settings(RuntimeSettings):
    # Domain of the Message-IDs our outbox writes: mail carrying them is our own (loop detection).
    mail_domain: str = "responer.local"
    # How often the deadline scheduler looks for warnings, breaches and assignment timeouts.
    scheduler_interval_s: float = 5.0
