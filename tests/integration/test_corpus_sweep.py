"""The whole of ../shared/corpus (notmuch corpora, bounces, the usrp-users mbox, rt-emails) through
`responer import --dry-run`, once per module: nothing crashes, nothing is lost, subjects and senders
decode, and every message that carries a text has one.

Subjects and sender names are checked against an independent decoder, the stdlib's
`policy.default`, wherever that decoder gives a clean answer; where it cannot (8-bit headers, words
split inside a multi-byte sequence) the mojibake sweep still applies.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
from responer_cli.import_cmd import Source, dry_run, iter_sources

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
PARTS = ("notmuch/corpora", "bounces/emails", "mbox/usrp-users.mbox", "rt-emails/emails")
# UTF-8 read as Latin-1/windows-1252 ("Ã©", "Å›", "â€™"), and the replacement character.
MOJIBAKE = re.compile("[ÃÂ][\u0080-\u00bf]|Å[\u0080-\u00bf›šž¡¼»ºŸ]|â€|\ufffd")


@pytest.fixture(scope="module")
def corpus() -> list[tuple[Source, dict, Message]]:
    if not CORPUS.is_dir():
        pytest.skip(f"real-mail corpus not found at {CORPUS} (expected ../shared/corpus beside the repo)")
    sources = list(iter_sources([str(CORPUS / part) for part in PARTS]))
    lines = dry_run(iter(sources), tenant="sweep", mailbox="corpus")
    assert len(lines) == len(sources)
    parsed = [email.message_from_bytes(src.raw, policy=email.policy.compat32) for src in sources]
    return list(zip(sources, lines, parsed, strict=True))


def _spaces(value: str) -> str:
    return " ".join(value.split())


def _stdlib_subject_and_name(raw: bytes) -> tuple[str, str] | None:
    """policy.default's decoding, or None where it has no clean answer."""
    try:
        msg = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
        subject = str(msg["subject"] or "")
        sender = msg["from"]
        name = sender.addresses[0].display_name if sender is not None and sender.addresses else ""
    except Exception:  # e.g. cpython#83281
        return None
    values = subject + name
    if "=?" in values or "\ufffd" in values or re.search("[\udc80-\udcff]", values):
        return None
    return _spaces(subject), _spaces(name)


def _has_text(part: Message) -> bool:
    """A non-blank text/plain or text/html part the sender did not mark as an attachment (attached
    messages excluded: their text is theirs)."""
    if part.get_content_type() in ("message/rfc822", "message/global"):
        return False
    if part.is_multipart():
        return any(_has_text(child) for child in part.get_payload() if isinstance(child, Message))
    if part.get_content_type() not in ("text/plain", "text/html"):
        return False
    if part.get_content_disposition() == "attachment":
        return False
    payload = part.get_payload(decode=True) or b""
    return bool(re.sub(rb"<[^>]*>|&nbsp;|\s", b"", payload))


def test_no_message_is_lost_or_fails(corpus):
    assert [src.name for src, line, _ in corpus if "error" in line] == []
    mbox = [src for src, _, _ in corpus if "usrp-users.mbox:" in src.name]
    assert len(mbox) == 2670  # the corpus README's count
    on_disk = {
        str(path)
        for part in ("notmuch/corpora", "bounces/emails", "rt-emails/emails")
        for path in (CORPUS / part).rglob("*")
        if path.is_file()
    }
    seen = {
        src.name.rsplit(":", 1)[0] if src.name.rsplit(":", 1)[0] in on_disk else src.name
        for src, _, _ in corpus
    }
    assert on_disk <= seen  # every file gave at least one message


def test_every_file_of_a_tree_is_one_message_even_when_it_starts_with_a_from_line(corpus):
    # A saved .eml may start with an mbox From_ line and carry further "From " lines (a second
    # returned message, an attached git patch): in a tree it is still one message, one report line.
    for name in ("rfc3464-28.eml", "mbox-attachment.eml"):
        names = [src.name for src, _, _ in corpus if src.name.endswith(name)]
        assert len(names) == 1, (name, names)
    mbox = [src.name for src, _, _ in corpus if "usrp-users.mbox:" in src.name]
    assert len(mbox) == 2670, "a file named like an mbox is still split"


def test_subjects_and_sender_names_match_an_independent_decoder(corpus):
    checked, wrong = 0, []
    for src, line, _ in corpus:
        expected = _stdlib_subject_and_name(src.raw)
        if expected is None:
            continue
        checked += 1
        subject, name = expected
        if _spaces(line["subject"]) != subject or (name and _spaces(line["from_name"]) != name):
            wrong.append((src.name, line["subject"], subject, line["from_name"], name))
    assert checked > 3000
    assert wrong == []


def test_no_mojibake_in_subjects_senders_or_texts(corpus):
    found = []
    for src, line, _ in corpus:
        for field in ("subject", "from_name", "text"):
            for match in MOJIBAKE.finditer(line[field]):
                # Mojibake the sender already had in the bytes (quoting a broken mail) is kept as written.
                if match.group().encode() not in src.raw:
                    found.append(
                        (src.name, field, line[field][max(0, match.start() - 20) : match.end() + 20])
                    )
    assert found == []


def test_every_message_with_a_text_part_has_text(corpus):
    empty = []
    for src, line, msg in corpus:
        if _has_text(msg) and not line["text"].strip():
            empty.append(src.name)
    assert empty == []


def test_every_sender_is_decoded(corpus):
    """A From header that names someone yields an address or a name (MAILER-DAEMON <> has only the name)."""
    missing = []
    for src, line, msg in corpus:
        header = msg.get("From")
        if header and "@" in str(header) and not line["from"]:
            missing.append(src.name)
        if line["from"] and ("=?" in line["from_name"] or "<" in line["from"]):
            missing.append(src.name)
    assert missing == []
