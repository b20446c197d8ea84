"""compat32 MIME parsing, faster: `message_from_bytes(raw)` returns what
`email.message_from_bytes(raw, policy=email.policy.compat32)` returns, about twice as fast.

Where the stdlib's time goes (usrp-users mbox, 16.5 KB per message): every body line passes through
a Python-level line reader and boundary check, and every multipart compiles a regex for its
boundary (`re.compile("(?P<sep>" + re.escape("--" + boundary) + ...)`, 0.2-0.6 ms each: boundaries
are unique, so the `re` cache never hits).

So: well-formed multiparts are split here with `str.find` on their delimiter lines, and the stdlib
parser is used for header blocks only (headers-only mode, so the header semantics are its own).
Anything the fast path does not reproduce exactly — a header block without separator, a missing
start or close delimiter, repeated delimiters, message/* parts, digests, bare CR line ends — goes
to the stdlib parser, whose generator is re-bound to a namespace where boundary patterns are
matched by `startswith` plus one precompiled tail pattern (the same match as the stdlib's regex).
Nothing of the stdlib is modified. tests/unit/test_mime_parser.py holds both paths to the stdlib's
result over the shared corpus and the malformed cases.
"""

from __future__ import annotations

import email.feedparser
import email.policy
import re
import types
from email.message import Message
from typing import Any

_PREFIX = "(?P<sep>"
_SUFFIX = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_TAIL = re.compile(_SUFFIX[1:])
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


class _BoundaryMatcher:
    """`re.compile("(?P<sep>" + re.escape(separator) + _SUFFIX[1:]).match`, minus the compiling."""

    __slots__ = ("separator", "length")

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self.length = len(separator)

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self.separator):
            return None
        return _TAIL.match(line, self.length)


class _Re:
    """The `re` module as feedparser's parser sees it here."""

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    @staticmethod
    def compile(pattern: Any, flags: int = 0) -> Any:
        if (
            flags == 0
            and isinstance(pattern, str)
            and pattern.startswith(_PREFIX)
            and pattern.endswith(_SUFFIX)
        ):
            return _BoundaryMatcher(_UNESCAPE.sub(r"\1", pattern[len(_PREFIX) : -len(_SUFFIX)]))
        return re.compile(pattern, flags)


_namespace = dict(vars(email.feedparser))
_namespace["re"] = _Re()
_stdlib_parsegen = email.feedparser.FeedParser._parsegen  # type: ignore[attr-defined]
_parsegen = types.FunctionType(
    _stdlib_parsegen.__code__,
    _namespace,
    _stdlib_parsegen.__name__,
    _stdlib_parsegen.__defaults__,
    _stdlib_parsegen.__closure__,
)


class _FeedParser(email.feedparser.FeedParser):
    _parsegen = _parsegen


def _feed(text: str, *, headers_only: bool = False) -> Message:
    parser = _FeedParser(policy=email.policy.compat32)
    if headers_only:
        parser._set_headersonly()  # type: ignore[attr-defined]
    parser.feed(text)
    return parser.close()


class _Fallback(Exception):
    """Anything the fast path does not reproduce exactly: the stdlib parser takes over."""


def _strip_eol(value: str) -> str:
    if value.endswith("\r\n"):
        return value[:-2]
    if value.endswith("\n"):
        return value[:-1]
    return value


def _body_start(text: str) -> int:
    """Index after the blank line that ends the header block, or len(text) when there is none."""
    if text.startswith("\n"):
        return 1
    if text.startswith("\r\n"):
        return 2
    lf, crlf = text.find("\n\n"), text.find("\n\r\n")
    if lf < 0 and crlf < 0:
        return len(text)
    if crlf < 0 or 0 <= lf < crlf:
        return lf + 2
    return crlf + 3


def _delimiters(body: str, separator: str) -> list[tuple[int, int, bool]]:
    """(line start, line end, is the close delimiter) of each delimiter line up to the close one."""
    found = []
    position = 0 if body.startswith(separator) else body.find("\n" + separator)
    while position >= 0:
        start = position if (position == 0 and body.startswith(separator)) else position + 1
        newline = body.find("\n", start)
        end = len(body) if newline < 0 else newline + 1
        tail = _TAIL.match(body, start + len(separator), end)
        if tail is not None and tail.end() == end:
            closing = tail.group("end") is not None
            found.append((start, end, closing))
            if closing:
                break
        position = body.find("\n" + separator, end - 1)
    return found


def _fast(text: str, depth: int) -> Message:
    """compat32's result for well-formed mail, splitting multiparts with str.find instead of
    feeding every line through the stdlib's line reader; raises _Fallback for anything else."""
    if depth > 20:
        raise _Fallback
    start = _body_start(text)
    msg = _feed(text[:start], headers_only=True)
    if msg.get_payload() != "" or msg.defects:
        raise _Fallback  # a header block the stdlib reads differently (no separator, junk lines)
    ctype = msg.get_content_type()
    maintype = ctype.split("/", 1)[0]
    body = text[start:]
    if maintype == "message" or ctype == "multipart/digest":
        raise _Fallback  # parsed into sub-messages by the stdlib: rare enough to leave to it
    if maintype != "multipart":
        msg.set_payload(body)
        return msg
    boundary = msg.get_boundary()
    cte = str(msg.get("content-transfer-encoding", "8bit")).lower()
    if boundary is None or cte not in ("7bit", "8bit", "binary"):
        raise _Fallback
    separator = "--" + boundary
    delimiters = _delimiters(body, separator)
    if not delimiters or delimiters[0][2] or not delimiters[-1][2]:
        raise _Fallback  # no start or no close delimiter: the defect paths
    parts: list[Message | str] = []
    for (_, after, _), (next_start, _, _) in zip(delimiters, delimiters[1:], strict=False):
        if next_start == after:
            raise _Fallback  # repeated delimiter lines, which the stdlib swallows
        child = _fast(body[after:next_start], depth + 1)
        if child.get_content_maintype() == "multipart":
            epilogue = child.epilogue
            child.epilogue = None if epilogue == "" else (None if epilogue is None else _strip_eol(epilogue))
        elif isinstance(child._payload, str):  # type: ignore[attr-defined]
            child._payload = _strip_eol(child._payload)  # type: ignore[attr-defined]
        parts.append(child)
    first_start = delimiters[0][0]
    if first_start:
        msg.preamble = _strip_eol(body[:first_start])
    msg.set_payload(parts)
    msg.epilogue = body[delimiters[-1][1] :]
    return msg


def headers_only(raw: bytes) -> Message:
    """The header block parsed, the rest kept unparsed as the payload (a string)."""
    return _feed(raw.decode("ascii", "surrogateescape"), headers_only=True)


def message_from_bytes(raw: bytes) -> Message:
    """Same result as `email.message_from_bytes(raw, policy=email.policy.compat32)`."""
    text = raw.decode("ascii", "surrogateescape")
    if "\r" not in text or text.count("\r") == text.count(
        "\r\n"
    ):  # bare CR: lines the fast path does not split
        try:
            return _fast(text, 0)
        except _Fallback:
            pass
    return _feed(text)
