from __future__ import annotations

from responer_threading.bootstrap import build
from responer_threading.config import Settings


def main() -> int:
    return build(Settings()).run()
