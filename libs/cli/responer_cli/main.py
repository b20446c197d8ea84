"""The `responer` command. Each sub-command lives in its own module with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that contribute sub-commands; each defines register(subparsers) and sets a `func` default.
COMMAND_MODULES = (
    "responer_cli.import_cmd",
    "responer_cli.quarantine_cmd",
    "responer_cli.dev_cmd",
    "responer_cli.search_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="responer",
        description="Responer: a shared inbox for customer-service teams.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
