"""The stdlib compat32 MIME parser without its slowest step: compiling a regex for every boundary.

`email.feedparser` builds `re.compile("(?P<sep>" + re.escape("--" + boundary) + ...)` for each
multipart it meets. Boundaries are unique per message, so the `re` cache never hits, and compiling
a pattern with a 40-70 character literal costs 0.2-0.6 ms in the pure-Python regex compiler: on the
usrp-users mailing-list mbox (1.8 multiparts per message) that was a third of the parse time.

`message_from_bytes` here is `email.message_from_bytes(raw, policy=compat32)` with the parser's
generator re-bound to a module namespace whose `re.compile` answers boundary patterns with a
`startswith` + one precompiled tail pattern, the same match as the stdlib's regex. Nothing of the
stdlib is modified (other users of `email` in the process keep their behaviour and speed); if a
future Python changes the pattern, the shim passes it to `re.compile` and only the speed-up is lost.
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


def message_from_bytes(raw: bytes) -> Message:
    """Same result as `email.message_from_bytes(raw, policy=email.policy.compat32)`."""
    parser = _FeedParser(policy=email.policy.compat32)
    parser.feed(raw.decode("ascii", "surrogateescape"))
    return parser.close()
