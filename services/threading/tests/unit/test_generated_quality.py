"""Pairwise threading quality on 2,000 generated messages with the thresholds of bench/threading_quality.py
(which measures 20,000 in `make bench`), and the usrp-users mailing list against notmuch's groupings."""

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


@pytest.fixture(scope="module")
def figures(corpus, tmp_path_factory):
    quality = _bench("threading_quality")
    generator = corpus.parent / "bench" / "gen_corpus.py"
    if not generator.is_file():
        pytest.skip(f"generator not found at {generator}")
    maildir, truth = quality.generate(generator, 2000, 4404, tmp_path_factory.mktemp("generated"))
    return quality.measure(truth, quality.facts_of(maildir, truth))


def test_generated_mail_threads_with_the_acceptance_precision_and_recall(figures):
    quality = _bench("threading_quality")
    print({k: v for k, v in figures.items() if k not in ("examples", "missed", "intruders")})
    assert figures["generic_subject_false_merges"] == 0
    # Recall counts the merge suggestions an agent accepts (one action each; never silent merges),
    # precision what threading decided on its own. Guards below the acceptance line catch regressions;
    # the acceptance line itself is the next test, expected to fail until it holds.
    assert figures["recall_judged"] >= quality.MIN_RECALL
    assert figures["precision"] >= 0.985 and figures["precision_judged"] >= 0.985


@pytest.mark.xfail(
    strict=True,
    reason="precision 0.990 on this sample, 0.993 at 20k: new topics sent as "
    "replies with the old subject kept are told apart only by their text (docs/benchmarks.md)",
)
def test_generated_mail_meets_the_acceptance_precision(figures):
    quality = _bench("threading_quality")
    assert figures["precision"] >= quality.MIN_PRECISION and figures["recall"] >= quality.MIN_RECALL


def test_usrp_users_keeps_every_header_based_grouping(corpus):
    usrp = _bench("threading_usrp")
    mbox = corpus / "mbox" / "usrp-users.mbox"
    figures = usrp.compare(mbox, corpus / "mbox" / "usrp-users.threads.json")
    assert figures["broken"] == []
    assert figures["unjustified_joins"] == []
    assert len(figures["extra_subject_joins"]) <= 30  # listed in docs/benchmarks.md
