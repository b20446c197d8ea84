"""The fast multipart splitter must parse exactly as the stdlib compat32 parser does, and hand
everything it does not reproduce to the stdlib."""

from __future__ import annotations

import email
import email.policy

import pytest
from responer_ingest.domain.mime_parser import _fast, message_from_bytes

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
    assert _fast(raw.decode("ascii"), 0).is_multipart()  # taken by the fast path, not the fallback


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: no body",
        b"\nbody without headers\n",
        b"From nobody Mon Jan  1 00:00:00 2024\nSubject: unix from\n\nbody\n",
        b"Subject: x\nnot a header line\nMore: y\n\nbody\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nonly part, no close\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b--\n--b\n\nclose first\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nrepeated delimiter\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\n\nno delimiter at all\n",
        b"Content-Type: multipart/mixed\n\n--b\n\nno boundary parameter\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n--b\n\nx\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\ncrlf\r\n--b--\r\nepilogue",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nbare\rcr\r\n--b--\r\n",
        b"Content-Type: multipart/digest; boundary=b\n\n--b\n\nSubject: in digest\n\nx\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n"
        b"Subject: inner\n\ninner body\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=c\n\n"
        b"--c\n\nplain\n--c\nContent-Type: text/html\n\n<p>x</p>\n--c--\n\n--b\n\nlast\n--b--",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=c\n\n"
        b"--c\n\ninner never closed\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n\xc5\xbc 8-bit \xff\n--b--\n",
    ],
)
def test_malformed_and_unusual_structures_parse_like_the_stdlib(raw):
    assert same(raw)


def test_corpus_parses_like_the_stdlib(corpus):
    files = [p for p in corpus.rglob("*") if p.is_file() and p.suffix not in {".json", ".md", ".mbox"}]
    assert [p.name for p in files if not same(p.read_bytes())] == []
