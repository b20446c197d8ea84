"""Cross-service tests (infra, e2e, fault, browser).

The real-server session fixtures live in `responer_cli.devstack.pytest_plugin`, registered as the
`responer` pytest plugin by libs/cli, so service-level tests get exactly the same ones:

  pg_server, pg_database (.dsn .host .port .dbname .user .password), nats_server, nats_url, namespace,
  fresh_namespace (function-scoped, own streams),
  dovecot, imap_account, smtp_catcher, make_stack, stack, chromium_path, responer_state_dir.

Here: tests are marked by their folder, so `-m e2e` or `-m "not browser"` select tiers.
"""

from __future__ import annotations

import pytest

_FOLDER_MARKS = {
    "infra": "integration",
    "integration": "integration",
    "e2e": "e2e",
    "fault": "e2e",
    "browser": "browser",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        if "tests" not in parts:
            continue
        rest = parts[parts.index("tests") + 1 :]
        if rest and rest[0] in _FOLDER_MARKS:
            item.add_marker(getattr(pytest.mark, _FOLDER_MARKS[rest[0]]))
