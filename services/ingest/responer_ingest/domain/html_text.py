"""HTML -> readable plain text with the stdlib parser (fast, tolerant, no network, no scripts)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
_BLOCK = frozenset(
    {
        "p",
        "div",
        "tr",
        "table",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "hr",
        "dl",
        "dt",
        "dd",
        "address",
        "center",
        "form",
    }
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag == "br":
            self.chunks.append("\n")
        elif tag == "li":
            self.chunks.append("\n- ")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        elif tag in _BLOCK:
            self.chunks.append("\n\n" if tag == "p" else "\n")
            if tag == "pre":
                self.pre_depth += 1
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.chunks.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK:
            self.chunks.append("\n")
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if not self.pre_depth:
            data = _SPACES.sub(" ", data.replace("\n", " "))
        self.chunks.append(data)


def html_to_text(html: str) -> str:
    collector = _TextCollector()
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # the stdlib parser is tolerant, but never let a body break parsing
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(collector.chunks)
    lines = [line.strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
