"""Threading on a real mailing list: the usrp-users mbox against notmuch's header-based groupings (issue 4).

    .venv/bin/python bench/threading_usrp.py [--mbox PATH] [--threads PATH]

Threads every message of the mbox in file order (one tenant, one mailbox; inbound, as `responer import`
does) and checks that every thread of `usrp-users.threads.json` (notmuch 0.37: Message-ID, In-Reply-To,
References, ghosts; no subject merging) is inside one of ours. Ours may join more, but only where the
guarded subject fallback decided; those extra joins are listed. Exits non-zero when a header-based
grouping is broken or an extra join has another cause.
`services/threading/tests/unit/test_usrp_corpus.py` runs the same check.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections import defaultdict
from pathlib import Path

from responer_cli.import_cmd import split_mbox
from responer_ingest.domain import parse_mail
from responer_threading.domain import InMemoryThreadStore, MailFacts, is_automatic, thread_message

_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "mbox"


def compare(mbox: Path, threads_file: Path) -> dict:
    expected = json.loads(threads_file.read_text())["threads"]
    store = InMemoryThreadStore()
    placed: dict[str, tuple[uuid.UUID, str, str]] = {}
    bare_irt: set[str] = set()  # messages whose In-Reply-To lacks angle brackets
    bare_ids: set[str] = set()  # the ids those name
    refs_of: dict[str, tuple[str, ...]] = {}
    for index, source in enumerate(split_mbox(str(mbox), mbox.read_bytes())):
        mail = parse_mail(source.raw)
        if mail.message_id in placed:
            continue  # duplicate copies are one message (ingest deduplicates them too)
        facts = MailFacts(
            tenant_id="usrp",
            mailbox_id="usrp-users",
            responer_message_id=uuid.uuid5(uuid.NAMESPACE_URL, f"usrp:{index}"),
            message_id=mail.message_id,
            in_reply_to=mail.in_reply_to,
            references=mail.references,
            subject=mail.subject,
            from_email=mail.from_email,
            to=tuple(a for _, a in mail.to),
            cc=tuple(a for _, a in mail.cc),
            date=mail.date,
            quoted_message_ids=mail.quoted_message_ids,
            automatic=is_automatic(mail.headers, mail.part_types),
            text=mail.text,
        )
        result = thread_message(facts, store)
        irt = next((v for k, v in mail.headers if k.casefold() == "in-reply-to"), "")
        if irt.strip() and "<" not in irt:
            bare_irt.add(mail.message_id)
            bare_ids.update(mail.in_reply_to)
        refs_of[mail.message_id] = (*mail.references, *mail.in_reply_to)
        placed[mail.message_id] = (result.thread_id, result.signal, mail.subject)
    final = {mid: store.final_thread("usrp", tid).thread_id for mid, (tid, _, _) in placed.items()}
    broken, group_of = [], {}
    for i, thread in enumerate(expected):
        ours = {final[m] for m in thread["message_ids"] if m in final}
        if len(ours) > 1:
            broken.append(thread["message_ids"])
        for m in thread["message_ids"]:
            group_of[m] = i
    members: dict[uuid.UUID, set[int]] = defaultdict(set)
    for mid, tid in final.items():
        if mid in group_of:
            members[tid].add(group_of[mid])
    extra, bare, unjustified = [], [], []
    for tid, groups in members.items():
        if len(groups) < 2:
            continue
        # Each expected thread beyond the first joined ours through its first message's decision.
        for g in sorted(groups)[1:]:
            first = expected[g]["message_ids"][0]
            _, signal, subject = placed[first]
            item = {"subject": subject, "signal": signal, "expected_thread": g, "ours": str(tid)}
            if signal == "subject":
                extra.append(item)
            elif (signal == "in_reply_to" and first in bare_irt) or (
                signal == "references" and bare_ids.intersection(refs_of[first])
            ):
                # "In-Reply-To: id@host" without angle brackets: notmuch 0.37 ignores such a header,
                # we read it (RFC 5322 obs-id-left tolerance); the parent named in it is in the list.
                # A reply to a message known only from such a header joins through it too.
                bare.append(item)
            else:
                unjustified.append(item)
    return {
        "messages": len(placed),
        "expected_threads": len(expected),
        "our_threads": len(set(final.values())),
        "broken": broken,
        "extra_subject_joins": extra,
        "extra_bare_in_reply_to_joins": bare,
        "unjustified_joins": unjustified,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mbox", type=Path, default=_CORPUS / "usrp-users.mbox")
    parser.add_argument("--threads", type=Path, default=_CORPUS / "usrp-users.threads.json")
    args = parser.parse_args()
    if not args.mbox.is_file():
        print(f"threading usrp: skipped, mbox not found at {args.mbox}")
        return 0
    figures = compare(args.mbox, args.threads)
    print(
        f"threading usrp-users: {figures['messages']} messages, {figures['expected_threads']} header-based "
        f"threads, {figures['our_threads']} of ours; broken groupings {len(figures['broken'])}; extra joins by "
        f"the subject fallback {len(figures['extra_subject_joins'])}; by an In-Reply-To without angle brackets "
        f"{len(figures['extra_bare_in_reply_to_joins'])}; other extra joins "
        f"{len(figures['unjustified_joins'])}"
    )
    for item in figures["extra_subject_joins"] + figures["unjustified_joins"]:
        print(f"  {item['signal']:10s} {item['subject']!r}")
    for ids in figures["broken"][:20]:
        print("  broken:", ids)
    return 1 if figures["broken"] or figures["unjustified_joins"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
