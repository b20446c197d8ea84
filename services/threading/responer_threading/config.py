from __future__ import annotations

from responer_runtime.settings import RuntimeSettings


class Settings(RuntimeSettings):
    pass
