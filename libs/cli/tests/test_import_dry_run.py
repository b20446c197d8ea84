from __future__ import annotations

import json
import time

import pytest
from responer_cli.main import main

pytestmark = pytest.mark.unit


def run_dry(tmp_path, *paths: str) -> list[dict]:
    report = tmp_path / "report.jsonl"
    assert main(["import", "--dry-run", "--report", str(report), *paths]) == 0
    return [json.loads(line) for line in report.read_text().splitlines()]


def test_a_missing_path_is_a_clear_error(tmp_path, capsys):
    # The real import (without --dry-run) is tested against real servers in
    # tests/integration/test_ingest_import.py.
    assert main(["import", str(tmp_path / "nope"), "--mailbox", "x@y.test"]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_notmuch_maildir_tree_one_line_per_file_with_duplicates(corpus, tmp_path):
    root = corpus / "notmuch" / "corpora" / "default"
    files = sorted(p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts)
    lines = run_dry(tmp_path, str(root))
    assert len(lines) == len(files) == 53
    assert {line["source"] for line in lines} == {str(p) for p in files}
    duplicates = [line for line in lines if "duplicate_of" in line]
    assert len(duplicates) == 1
    first = next(line for line in lines if line["source"] == duplicates[0]["duplicate_of"])
    assert first["message_id"] == duplicates[0]["message_id"] and first["thread"] == duplicates[0]["thread"]
    assert len({line["thread"] for line in lines}) == 24
    for line in lines:
        for field in (
            "message_id",
            "from",
            "subject",
            "date",
            "text",
            "attachments",
            "parse_defects",
            "thread",
            "thread_number",
            "thread_signal",
            "folder",
            "system",
            "system_reason",
            "system_kind",
            "bounce_recipient",
            "bounce_status",
        ):
            assert field in line
        assert "<" not in line["message_id"] and "error" not in line


def test_usrp_mbox_sources_counts_and_speed(corpus, tmp_path):
    mbox = corpus / "mbox" / "usrp-users.mbox"
    started = time.monotonic()
    lines = run_dry(tmp_path, str(mbox))
    elapsed = time.monotonic() - started
    assert len(lines) == 2670
    assert [line["source"] for line in lines[:2]] == [f"{mbox}:0", f"{mbox}:1"]
    assert len([line for line in lines if "duplicate_of" in line]) == 2670 - 2657
    assert all(line["duplicate_of"].startswith(f"{mbox}:") for line in lines if "duplicate_of" in line)
    # Every list message carries List-Id: mailing-list traffic is sorted as bulk.
    assert all(line["system_kind"] == "newsletter" for line in lines)
    print(f"usrp-users dry run: {len(lines)} messages in {elapsed:.1f}s")
    assert elapsed < 60


def test_bounce_files_and_a_broken_file_each_get_a_line(corpus, tmp_path):
    broken = tmp_path / "mail" / "broken.eml"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00\xff garbage \xfe")
    (tmp_path / "mail" / "empty.eml").write_bytes(b"")
    bounce = corpus / "rt-emails" / "emails" / "multipart-report"
    lines = run_dry(tmp_path, str(tmp_path / "mail"), str(bounce))
    assert len(lines) == 3
    by_source = {line["source"]: line for line in lines}
    assert by_source[str(bounce)]["system_kind"] == "bounce" and by_source[str(bounce)]["folder"] == "System"
    assert "error" in by_source[str(tmp_path / "mail" / "empty.eml")]
    assert by_source[str(broken)]["message_id"].endswith("@derived.responer")


def test_maildir_tmp_is_skipped(tmp_path):
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1").write_bytes(b"Message-ID: <n@x>\nSubject: new\n\nhi\n")
    (maildir / "tmp" / "2").write_bytes(b"Message-ID: <t@x>\nSubject: half-written\n\n")
    lines = run_dry(tmp_path, str(maildir))
    assert [line["message_id"] for line in lines] == ["n@x"]
