"""System-mail sorting quality on generated helpdesk mail with ground truth (issue 5 acceptance).

    .venv/bin/python bench/sorting_quality.py [--count 20000] [--seed 5303] [--misses 15]

Generates `--count` messages with /work/shared/bench/gen_corpus.py (or `--generator`), classifies each
with the routing domain (the default policy, as `responer import --dry-run` does) and reports
customer/agent mail hidden in System (at most 0.1 %) and system mail found (at least 98 %), by kind,
plus the misses grouped by kind. Exits non-zero when a threshold is missed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from responer_cli.import_cmd import incoming_mail
from responer_ingest.domain import parse_mail
from responer_routing.domain.system_mail import classify

CUSTOMER_KINDS = frozenset({"customer", "agent_reply"})
MAX_HIDDEN = 0.001
MIN_FOUND = 0.98
_DEFAULT_GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"


def measure(maildir: Path, truth: list[dict], misses: int = 0, without_html: bool = False) -> dict:
    """Classify every message of a generated Maildir against its truth; returns the figures."""
    hidden, found, total, kind_right = Counter(), Counter(), Counter(), Counter()
    examples: dict[str, list[str]] = {}
    for item in truth:
        facts = incoming_mail(parse_mail((maildir / item["file"]).read_bytes()))
        verdict = classify(dataclasses.replace(facts, html="") if without_html else facts)
        kind = item["kind"]
        total[kind] += 1
        if kind in CUSTOMER_KINDS:
            hidden[kind] += verdict.system
            wrong = verdict.system
        else:
            found[kind] += verdict.system
            kind_right[kind] += verdict.kind == kind
            wrong = not verdict.system
        if wrong or (kind not in CUSTOMER_KINDS and verdict.kind != kind):
            key = f"{kind} -> {verdict.kind}"
            examples.setdefault(key, [])
            if len(examples[key]) < misses:
                examples[key].append(
                    f"{item['file']} from={item['from']} subject={item['subject']!r} | {verdict.reason}"
                )
    customer_total = sum(total[k] for k in CUSTOMER_KINDS)
    system_total = sum(v for k, v in total.items() if k not in CUSTOMER_KINDS)
    return {
        "messages": len(truth),
        "customer_total": customer_total,
        "customer_hidden": sum(hidden.values()),
        "hidden_rate": sum(hidden.values()) / max(customer_total, 1),
        "system_total": system_total,
        "system_found": sum(found.values()),
        "found_rate": sum(found.values()) / max(system_total, 1),
        "by_kind": {
            k: {
                "total": total[k],
                "system": hidden[k] if k in CUSTOMER_KINDS else found[k],
                "kind_right": kind_right[k],
            }
            for k in sorted(total)
        },
        "misses": examples,
    }


def generate(generator: Path, count: int, seed: int, out: Path) -> tuple[Path, list[dict]]:
    maildir, truth_file = out / "Maildir", out / "truth.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(generator),
            "--count",
            str(count),
            "--seed",
            str(seed),
            "--maildir",
            str(maildir),
            "--truth",
            str(truth_file),
            "--quiet",
        ],
        check=True,
    )
    return maildir, [json.loads(line) for line in truth_file.read_text().splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=5303)
    parser.add_argument("--generator", type=Path, default=_DEFAULT_GENERATOR)
    parser.add_argument("--misses", type=int, default=5, help="examples of misses to print per category")
    parser.add_argument(
        "--without-html",
        action="store_true",
        help="classify without the HTML body (a caller that does not map it)",
    )
    args = parser.parse_args()
    if not args.generator.is_file():
        print(f"sorting_quality: generator not found at {args.generator}; skipped")
        return 0
    with tempfile.TemporaryDirectory(prefix="responer-sorting-") as tmp:
        maildir, truth = generate(args.generator, args.count, args.seed, Path(tmp))
        started = time.monotonic()
        result = measure(maildir, truth, args.misses, args.without_html)
        elapsed = time.monotonic() - started
    ok = result["hidden_rate"] <= MAX_HIDDEN and result["found_rate"] >= MIN_FOUND
    print(
        f"sorting quality, {result['messages']} generated messages (seed {args.seed}"
        f"{', without HTML' if args.without_html else ''}), {elapsed:.1f}s: "
        f"customer/agent mail hidden in System {result['customer_hidden']}/{result['customer_total']} "
        f"({result['hidden_rate']:.3%}, limit {MAX_HIDDEN:.1%}); system mail found "
        f"{result['system_found']}/{result['system_total']} ({result['found_rate']:.2%}, need {MIN_FOUND:.0%}) "
        f"-> {'PASS' if ok else 'FAIL'}"
    )
    for kind, row in result["by_kind"].items():
        print(
            f"  {kind:13} {row['total']:6}  classified system {row['system']:6}  right kind {row['kind_right']}"
        )
    for key, lines in sorted(result["misses"].items()):
        print(f"  miss {key}:")
        for line in lines:
            print(f"    {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
