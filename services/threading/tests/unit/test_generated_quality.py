"""Pairwise threading quality on generated messages with the thresholds of bench/threading_quality.py
(2,000 for recall and guards, 20,000 - the acceptance's size - for precision), and the usrp-users mailing
list against notmuch's groupings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
BENCH = Path(__file__).resolve().parents[4] / "bench"


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _measure(corpus, tmp_path_factory, count: int) -> dict:
    quality = _bench("threading_quality")
    generator = corpus.parent / "bench" / "gen_corpus.py"
    if not generator.is_file():
        pytest.skip(f"generator not found at {generator}")
    maildir, truth = quality.generate(generator, count, 4404, tmp_path_factory.mktemp("generated"))
    return quality.measure(truth, quality.facts_of(maildir, truth))


@pytest.fixture(scope="module")
def figures(corpus, tmp_path_factory):
    return _measure(corpus, tmp_path_factory, 2000)


def test_generated_mail_threads_with_the_acceptance_recall(figures):
    quality = _bench("threading_quality")
    print({k: v for k, v in figures.items() if k not in ("examples", "missed", "intruders")})
    assert figures["generic_subject_false_merges"] == 0
    # Recall as decided, without counting any merge suggestion an agent would accept: resends of the
    # same question join (decision._resend), so customers who write twice no longer split conversations.
    assert figures["recall"] >= quality.MIN_RECALL
    # A guard below the acceptance line for precision, which the next test measures at 20,000. On
    # this small sample one conversation the generator labels separate is a resend by the rule (the
    # same customer, the same subject 3.5 hours after their last mail, no answer yet) and takes 0.008
    # of it (0.987 here).
    assert figures["precision"] >= 0.98 and figures["precision_judged"] >= 0.98


def test_generated_mail_meets_the_acceptance_precision(corpus, tmp_path_factory):
    # 20,000 messages, as the acceptance states it (~20 s). New matters written as a reply to our
    # last answer are split off by their text (decision._topic_shift); before that rule, 0.991.
    quality = _bench("threading_quality")
    figures = _measure(corpus, tmp_path_factory, 20000)
    assert figures["precision"] >= quality.MIN_PRECISION
    assert figures["recall"] >= quality.MIN_RECALL
    assert figures["generic_subject_false_merges"] == 0


def test_usrp_users_keeps_every_header_based_grouping(corpus):
    usrp = _bench("threading_usrp")
    mbox = corpus / "mbox" / "usrp-users.mbox"
    figures = usrp.compare(mbox, corpus / "mbox" / "usrp-users.threads.json")
    assert figures["broken"] == []
    assert figures["unjustified_joins"] == []
    assert len(figures["extra_subject_joins"]) <= 30  # listed in docs/benchmarks.md
