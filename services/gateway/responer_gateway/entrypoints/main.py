"""`python -m responer_gateway`: the public HTTP API and web UI, plus the relay of gateway events."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from responer_gateway import bootstrap
from responer_gateway.config import Settings


def main() -> int:
    try:
        settings = Settings()  # type: ignore[call-arg]  # required values come from the environment
    except ValidationError as exc:
        missing = ", ".join(
            f"RESPONER_{'_'.join(map(str, e['loc'])).upper()} ({e['msg']})" for e in exc.errors()
        )
        print(f"responer-gateway: invalid configuration: {missing}", file=sys.stderr)
        return 2
    return bootstrap.build(settings).run()
