from __future__ import annotations

from responer_routing.bootstrap import build
from responer_routing.config import Settings


def main() -> int:
    return build(Settings()).run()
