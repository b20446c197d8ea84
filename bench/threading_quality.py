"""Threading quality on generated helpdesk mail with ground truth (issue 4 acceptance).

    .venv/bin/python bench/threading_quality.py [--count 20000] [--seed 4404] [--errors 10]

Generates `--count` messages with /work/shared/bench/gen_corpus.py (or `--generator`), threads each with
the threading domain (the in-memory store, as `responer import --dry-run` does, in arrival order) and
reports pairwise precision (at least 0.995) and recall (at least 0.98) against the truth's `thread_key`,
false merges among the labelled `same_generic_subject` cases (none allowed), and the errors grouped by
category (the truth's `threading` / `hard_cases` / `kind`, and the signal that decided). Exits non-zero
when a threshold is missed. `services/threading/tests/unit/test_generated_quality.py` runs the same
measurement on 2,000 messages.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from responer_ingest.domain import parse_mail
from responer_threading.domain import InMemoryThreadStore, MailFacts, is_automatic, thread_message

MIN_PRECISION = 0.995
MIN_RECALL = 0.98
_DEFAULT_GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"


def generate(generator: Path, count: int, seed: int, out: Path) -> tuple[Path, list[dict]]:
    maildir, truth_file = out / "Maildir", out / "truth.jsonl"
    if not truth_file.is_file():
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


def facts_of(maildir: Path, truth: list[dict]) -> list[MailFacts]:
    """Parse every message as ingest would; agent replies are our outgoing mail (the outbox's copy)."""
    out = []
    for item in truth:
        mail = parse_mail((maildir / item["file"]).read_bytes())
        out.append(
            MailFacts(
                tenant_id=item["tenant"],
                mailbox_id=item["mailbox"],
                responer_message_id=uuid.uuid5(uuid.NAMESPACE_URL, f"seq:{item['seq']}"),
                message_id=mail.message_id,
                in_reply_to=mail.in_reply_to,
                references=mail.references,
                subject=mail.subject,
                from_email=mail.from_email,
                to=tuple(a for _, a in mail.to),
                cc=tuple(a for _, a in mail.cc),
                date=mail.date,
                direction="outbound" if item["kind"] == "agent_reply" else "inbound",
                quoted_message_ids=mail.quoted_message_ids,
                automatic=is_automatic(mail.headers, mail.part_types),
                mailbox_address=item["mailbox"],
                text=mail.text,
            )
        )
    return out


def _pairs(groups: dict[int, object]) -> set[tuple[int, int]]:
    members: dict[object, list[int]] = defaultdict(list)
    for seq, key in groups.items():
        members[key].append(seq)
    return {pair for seqs in members.values() for pair in itertools.combinations(sorted(seqs), 2)}


def _category(item: dict, signal: str) -> str:
    hard = ",".join(item.get("hard_cases") or ()) or "-"
    return f"kind={item['kind']} threading={item.get('threading') or '-'} hard={hard} signal={signal}"


def _follow(
    store: InMemoryThreadStore, tenant: str, thread_id: uuid.UUID, accepted: dict | None = None
) -> uuid.UUID:
    accepted = store.suggestions if accepted is None else accepted
    seen = set()
    while thread_id in accepted and thread_id not in seen:
        seen.add(thread_id)
        thread_id = store.final_thread(tenant, accepted[thread_id]).thread_id
    return thread_id


def measure(truth: list[dict], facts: list[MailFacts], errors: int = 0) -> dict:
    """Thread `facts` in order against `truth` (same order); returns the figures and errors by category."""
    store = InMemoryThreadStore()
    placed, signals = {}, {}
    for item, f in zip(truth, facts, strict=True):
        result = thread_message(f, store)
        placed[item["seq"]], signals[item["seq"]] = (item["tenant"], result.thread_id), result.signal
    # Where each message is now (later merges and splits included), by its Message-ID's pointer.
    final = {}
    for item, f in zip(truth, facts, strict=True):
        ref = store.message(item["tenant"], f.message_id)
        final[item["seq"]] = store.final_thread(
            item["tenant"], ref.thread_id if ref else placed[item["seq"]][1]
        ).thread_id
    key_of = {i["seq"]: i["thread_key"] for i in truth}
    want, got = _pairs(key_of), _pairs(final)
    right = len(want & got)
    # What an agent sees after accepting every merge suggestion (one click each): reported apart.
    accepted = {seq: _follow(store, placed[seq][0], tid) for seq, tid in final.items()}
    got_accepted = _pairs(accepted)
    # An agent who accepts the right suggestions and dismisses the wrong ones (judged by the truth).
    first_of: dict[uuid.UUID, int] = {}
    for item in truth:
        first_of.setdefault(placed[item["seq"]][1], item["seq"])
    right_suggestions = {
        new: target
        for new, target in store.suggestions.items()
        if new in first_of and target in first_of and key_of[first_of[new]] == key_of[first_of[target]]
    }
    judged = {seq: _follow(store, placed[seq][0], tid, right_suggestions) for seq, tid in final.items()}
    got_judged = _pairs(judged)

    # Errors, attributed to messages: a missed join (not with its true parent) or an intruder (in a
    # thread whose first message belongs to another conversation).
    by_mid = {f.message_id: i["seq"] for i, f in zip(truth, facts, strict=True)}
    first_key: dict[uuid.UUID, str] = {}
    for item in truth:
        first_key.setdefault(final[item["seq"]], item["thread_key"])
    missed, intruded = Counter(), Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    generic_false = 0
    for item in truth:
        seq, sig = item["seq"], signals[item["seq"]]
        parent = by_mid.get(item.get("parent") or "")
        if parent is not None and final[parent] != final[seq] and key_of[parent] == key_of[seq]:
            cat = "missed " + _category(item, sig)
            missed[cat] += 1
            if len(examples[cat]) < errors:
                examples[cat].append(f"{item['file']} subject={item['subject']!r}")
        if first_key[final[seq]] != item["thread_key"]:
            cat = "intruder " + _category(item, sig)
            intruded[cat] += 1
            generic_false += "same_generic_subject" in (item.get("hard_cases") or ())
            if len(examples[cat]) < errors:
                examples[cat].append(f"{item['file']} subject={item['subject']!r} truth={item['thread_key']}")
    return {
        "messages": len(truth),
        "precision": right / max(len(got), 1),
        "recall": right / max(len(want), 1),
        "suggestions": len(store.suggestions),
        "precision_accepted": len(want & got_accepted) / max(len(got_accepted), 1),
        "recall_accepted": len(want & got_accepted) / max(len(want), 1),
        "suggestions_right": len(right_suggestions),
        "precision_judged": len(want & got_judged) / max(len(got_judged), 1),
        "recall_judged": len(want & got_judged) / max(len(want), 1),
        "pairs_true": len(want),
        "pairs_found": len(got),
        "generic_subject_false_merges": generic_false,
        "generic_subject_cases": sum("same_generic_subject" in (i.get("hard_cases") or ()) for i in truth),
        "signals": dict(Counter(signals.values()).most_common()),
        "missed": dict(missed.most_common()),
        "intruders": dict(intruded.most_common()),
        "examples": dict(examples),
    }


def passes(figures: dict) -> bool:
    return (
        figures["precision"] >= MIN_PRECISION
        and figures["recall"] >= MIN_RECALL
        and figures["generic_subject_false_merges"] == 0
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=4404)
    parser.add_argument("--errors", type=int, default=0, help="example files per error category")
    parser.add_argument("--generator", type=Path, default=_DEFAULT_GENERATOR)
    parser.add_argument("--workdir", type=Path, help="keep the generated corpus here (reused when present)")
    args = parser.parse_args()
    if not args.generator.is_file():
        print(f"threading quality: skipped, generator not found at {args.generator}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.workdir or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        maildir, truth = generate(args.generator, args.count, args.seed, out)
        facts = facts_of(maildir, truth)
        started = time.perf_counter()
        figures = measure(truth, facts, args.errors)
        elapsed = time.perf_counter() - started
    print(
        f"threading quality ({figures['messages']} generated messages, seed {args.seed}): "
        f"precision {figures['precision']:.4f} (min {MIN_PRECISION}), recall {figures['recall']:.4f} "
        f"(min {MIN_RECALL}); same-generic-subject false merges {figures['generic_subject_false_merges']} "
        f"of {figures['generic_subject_cases']} labelled; threaded in {elapsed:.1f} s"
    )
    print(
        f"  merge suggestions {figures['suggestions']} ({figures['suggestions_right']} right); all accepted: "
        f"precision {figures['precision_accepted']:.4f}, recall {figures['recall_accepted']:.4f}; the right "
        f"ones accepted: precision {figures['precision_judged']:.4f}, recall {figures['recall_judged']:.4f}"
    )
    print("  signals:", figures["signals"])
    for name in ("missed", "intruders"):
        for cat, n in figures[name].items():
            print(f"  {n:5d} {cat}")
            for example in figures["examples"].get(cat, ()):
                print(f"          {example}")
    return 0 if passes(figures) else 1


if __name__ == "__main__":
    raise SystemExit(main())
