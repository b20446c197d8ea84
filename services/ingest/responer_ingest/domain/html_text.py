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
# Nested-list indentation survives the whitespace clean-up below as this marker.
_INDENT = "\x01"
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        # One entry per open list: the next number of an <ol>, None for a <ul>.
        self.lists: list[int | None] = []
        self.cells_in_row = 0
        # (href, index of the first chunk of the link text) of the open <a>.
        self.link: tuple[str, int] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip_depth += 1
        elif tag == "br":
            self.chunks.append("\n")
        elif tag == "li":
            number = self.lists[-1] if self.lists else None
            indent = _INDENT * max(0, len(self.lists) - 1)
            if number is None:
                self.chunks.append(f"\n{indent}- ")
            else:
                self.chunks.append(f"\n{indent}{number}. ")
                self.lists[-1] = number + 1
        elif tag in ("td", "th"):
            # Cells of a row on one line, separated so that "Ilość | 2" stays readable.
            self.chunks.append(" | " if self.cells_in_row else " ")
            self.cells_in_row += 1
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self.link = (href, len(self.chunks)) if href.startswith(("http:", "https:", "mailto:")) else None
        elif tag in _BLOCK:
            if tag == "tr":
                self.cells_in_row = 0
            elif tag in ("ul", "ol"):
                self.lists.append(1 if tag == "ol" else None)
                if len(self.lists) > 1:
                    return  # a nested list starts on its first item's line
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
        elif tag == "a" and self.link is not None:
            href, start = self.link
            self.link = None
            label = "".join(self.chunks[start:]).strip()
            target = href[7:] if href.startswith("mailto:") else href
            # Only a link whose text hides where it goes gets its address written out.
            if label and target.rstrip("/") not in label:
                self.chunks.append(f" <{target}>")
        elif tag in _BLOCK:
            if tag in ("ul", "ol") and self.lists:
                self.lists.pop()
            if tag == "tr" or (tag in ("ul", "ol") and self.lists):
                return  # rows and nested lists end where the next line starts
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
    lines = [line.strip().replace(_INDENT, "  ") for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
