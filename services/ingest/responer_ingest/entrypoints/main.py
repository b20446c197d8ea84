from __future__ import annotations

from responer_ingest.bootstrap import build
from responer_ingest.config import Settings


def main() -> int:
    return build(Settings()).run()
