"""MIME parse throughput of `parse_mail` next to the stdlib baselines, measured in the same run (issue 3).

    .venv/bin/python bench/parse_throughput.py [--mbox PATH] [--rounds 3] [--json FILE]

Reads the usrp-users mbox of the shared corpus (or `--mbox`), splits it as `responer import` does, and
times, on one core, messages per second for:

* `parse_mail` — everything ingest needs (decoded headers, body text, HTML, attachments with hashes);
* plain — `email.message_from_bytes(raw, policy=email.policy.default)` plus the body text
  (`get_body(("plain", "html")).get_content()`) and the attachment names (`iter_attachments()`),
  the baseline named in issue 3;
* compat32 — `message_from_bytes(raw)` with the compat32 policy and nothing else, for scale.

Rates are per core: CPU time of this process (`time.process_time`), so other work on the machine
does not count against a contender. The three are interleaved in chunks of 100 messages, so what
noise remains (caches, frequency scaling) hits them alike; each rate is the best of `--rounds`
passes. The goal is parse_mail >= 2x the plain rate; the exit status is 1 below it.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import gc
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from responer_ingest.domain import parse_mail

GOAL = 2.0
_DEFAULT_MBOX = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "mbox" / "usrp-users.mbox"


_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)
CHUNK = 100


def split_mbox(data: bytes) -> list[bytes]:
    """Messages of an mboxrd file, as `responer import` reads them (From_ line dropped, unquoted)."""
    starts = [m for m in _SEPARATOR.finditer(data) if m.start() == 0 or data[m.start() - 1] == 0x0A]
    ends = [m.start() for m in starts[1:]] + [len(data)]
    messages = []
    for match, end in zip(starts, ends, strict=True):
        raw = data[match.end() : end]
        if raw.endswith(b"\n\n"):
            raw = raw[:-1]  # the blank line mbox writers put between messages
        messages.append(_MBOXRD_QUOTED.sub(rb"\1", raw))
    return messages


def plain_default(raw: bytes) -> tuple[str, list[str]]:
    """What a straightforward stdlib parser does: policy.default, the body, the attachment names."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if part is not None else ""
    except Exception:  # policy.default raises on some real headers (cpython#83281) and payloads
        text = ""
    names: list[str] = []
    try:
        names = [p.get_filename() or "" for p in msg.iter_attachments()]
    except Exception:
        pass
    return text, names


def compat32_only(raw: bytes) -> object:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def measure(messages: list[bytes], rounds: int) -> dict[str, float]:
    funcs: dict[str, Callable[[bytes], object]] = {
        "parse_mail": parse_mail,
        "plain_default": plain_default,
        "compat32_only": compat32_only,
    }
    best = dict.fromkeys(funcs, 0.0)
    for _ in range(rounds):
        spent = dict.fromkeys(funcs, 0.0)
        for start in range(0, len(messages), CHUNK):
            chunk = messages[start : start + CHUNK]
            for name, func in funcs.items():
                began = time.process_time()
                for raw in chunk:
                    func(raw)
                spent[name] += time.process_time() - began
        for name in funcs:
            best[name] = max(best[name], len(messages) / spent[name])
        gc.collect()
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbox", type=Path, default=_DEFAULT_MBOX)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not args.mbox.is_file():
        print(f"parse_throughput: skipped, no mbox at {args.mbox}", file=sys.stderr)
        return 0
    messages = split_mbox(args.mbox.read_bytes())
    size = sum(map(len, messages)) / len(messages)
    figures = measure(messages, args.rounds)
    ratio = figures["parse_mail"] / figures["plain_default"]
    print(
        f"parse throughput per core on {args.mbox.name}: {len(messages)} messages, {size / 1024:.1f} KB average"
    )
    print(f"  parse_mail                       {figures['parse_mail']:8.0f} msg/s")
    print(f"  policy.default + body + names    {figures['plain_default']:8.0f} msg/s")
    print(f"  compat32 parse only              {figures['compat32_only']:8.0f} msg/s")
    print(f"  ratio parse_mail / plain         {ratio:8.2f}x  (goal >= {GOAL:.1f}x)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**figures, "ratio": ratio, "messages": len(messages)}, indent=2))
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
