"""The boundary-regex shortcut must parse exactly as the stdlib compat32 parser does."""

from __future__ import annotations

import email
import email.policy

import pytest
from responer_ingest.domain.mime_parser import message_from_bytes

pytestmark = pytest.mark.unit


def same(raw: bytes) -> bool:
    ours, stdlib = message_from_bytes(raw), email.message_from_bytes(raw, policy=email.policy.compat32)
    return (
        ours.as_bytes() == stdlib.as_bytes()
        and [(p.get_content_type(), p.preamble, p.epilogue) for p in ours.walk()]
        == [(p.get_content_type(), p.preamble, p.epilogue) for p in stdlib.walk()]
        and [type(d) for p in ours.walk() for d in p.defects]
        == [type(d) for p in stdlib.walk() for d in p.defects]
    )


@pytest.mark.parametrize(
    "boundary",
    [
        "simple",
        "----=_Part_0_1.2+3(x)?*[y]",
        "=-=-=",
        "a b",
        "----B9A0843C4202B95A378D61F7C0DE9135",
        "x\\y$^",
    ],
)
@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_tricky_boundaries_parse_like_the_stdlib(boundary, eol):
    b = boundary.encode()
    raw = eol.join(
        [
            b'Content-Type: multipart/mixed; boundary="' + b + b'"',
            b"",
            b"preamble",
            b"--" + b + b"  ",  # trailing whitespace after a delimiter is allowed
            b"Content-Type: text/plain",
            b"",
            b"one",
            b"--" + b + b"x not a delimiter",
            b"--" + b,
            b"Content-Type: text/plain",
            b"",
            b"two",
            b"--" + b + b"--",
            b"epilogue",
        ]
    )
    assert same(raw)
    assert len(message_from_bytes(raw).get_payload()) == 2


def test_corpus_parses_like_the_stdlib(corpus):
    files = [p for p in corpus.rglob("*") if p.is_file() and p.suffix not in {".json", ".md", ".mbox"}]
    assert [p.name for p in files if not same(p.read_bytes())] == []
