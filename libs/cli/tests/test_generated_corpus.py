"""Measures the domain against generated helpdesk mail with ground truth (bench/gen_corpus.py)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from collections import Counter, defaultdict

import pytest
from responer_cli.import_cmd import incoming_mail
from responer_ingest.domain import parse_mail
from responer_routing.domain.system_mail import classify
from responer_threading.domain import InMemoryThreadStore, MailFacts, is_automatic, thread_message

pytestmark = pytest.mark.unit
CUSTOMER_KINDS = {"customer", "agent_reply"}


def _pairs(groups: dict[int, object]) -> set[tuple[int, int]]:
    members: dict[object, list[int]] = defaultdict(list)
    for seq, key in groups.items():
        members[key].append(seq)
    return {pair for seqs in members.values() for pair in itertools.combinations(sorted(seqs), 2)}


def test_generated_support_mail_threading_and_sorting(corpus, tmp_path):
    generator = corpus.parent / "bench" / "gen_corpus.py"
    if not generator.is_file():
        pytest.skip(f"generator not found at {generator}")
    maildir, truth_file = tmp_path / "Maildir", tmp_path / "truth.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(generator),
            "--count",
            "2000",
            "--seed",
            "7",
            "--maildir",
            str(maildir),
            "--truth",
            str(truth_file),
            "--quiet",
        ],
        check=True,
    )
    truth = [json.loads(line) for line in truth_file.read_text().splitlines()]
    store = InMemoryThreadStore()
    threads: dict[int, tuple[str, uuid.UUID]] = {}
    customer_hidden, system_total, system_found, kind_right = 0, 0, 0, Counter()
    for item in truth:
        mail = parse_mail((maildir / item["file"]).read_bytes())
        outbound = item["kind"] == "agent_reply"
        facts = MailFacts(
            tenant_id=item["tenant"],
            mailbox_id=item["mailbox"],
            responer_message_id=uuid.uuid4(),
            message_id=mail.message_id,
            in_reply_to=mail.in_reply_to,
            references=mail.references,
            subject=mail.subject,
            from_email=mail.from_email,
            to=tuple(a for _, a in mail.to),
            cc=tuple(a for _, a in mail.cc),
            date=mail.date,
            direction="outbound" if outbound else "inbound",
            quoted_message_ids=mail.quoted_message_ids,
            automatic=is_automatic(mail.headers, mail.part_types),  # as the service and the import set it
            text=mail.text,
        )
        threads[item["seq"]] = (item["tenant"], thread_message(facts, store).thread_id)
        verdict = classify(incoming_mail(mail))
        if item["kind"] in CUSTOMER_KINDS:
            customer_hidden += verdict.system
        else:
            system_total += 1
            system_found += verdict.system
            kind_right[item["kind"]] += verdict.kind == item["kind"]
    final = {seq: store.final_thread(t, tid).thread_id for seq, (t, tid) in threads.items()}
    want, got = _pairs({i["seq"]: i["thread_key"] for i in truth}), _pairs(final)
    precision, recall = len(want & got) / len(got), len(want & got) / len(want)
    kinds = Counter(i["kind"] for i in truth)
    print(
        f"generated: threading precision {precision:.3f} recall {recall:.3f}; customer mail hidden "
        f"{customer_hidden}; system found {system_found}/{system_total}; kinds right "
        f"{ {k: f'{kind_right[k]}/{kinds[k]}' for k in kind_right} }"
    )
    assert customer_hidden == 0  # precision first: no customer mail vanishes into System
    assert precision >= 0.95 and recall >= 0.93
    assert kind_right["bounce"] == kinds["bounce"]
    assert system_found / system_total >= 0.9
