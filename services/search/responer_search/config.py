"""Settings of the search service (environment, prefix RESPONER_)."""

from __future__ import annotations

from responer_runtime.settings import RuntimeSettings


class Settings(RuntimeSettings):
    search_default_limit: int = 50
    search_max_limit: int = 200
