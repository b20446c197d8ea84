"""`python -m responer_search`: the search read model consumers and its gRPC API in one process."""

from __future__ import annotations

from responer_search.bootstrap import build
from responer_search.config import Settings


def main() -> int:
    return build(Settings()).run()
