"""Search snippets: the backend marks matches with sentinels, we escape the rest and add <mark>.

Mail content is hostile: the backend's highlighter sees raw text, so the markers it inserts must be
characters mail cannot smuggle in (they are stripped from the text first) and everything else is
HTML-escaped afterwards. Only the <mark> tags this function writes survive as markup.
"""

from __future__ import annotations

import html

START = "\ue000"  # Unicode private use: never meaningful in mail, removed from text before highlighting
STOP = "\ue001"
PLAIN_CHARS = 200


def strip_sentinels(text: str) -> str:
    return text.replace(START, "").replace(STOP, "")


def render(marked: str) -> str:
    """Text with START/STOP around matches -> safe HTML with <mark> around matches."""
    text = " ".join(marked.split())
    return html.escape(text, quote=True).replace(START, "<mark>").replace(STOP, "</mark>")


def plain(text: str) -> str:
    """The start of a message as a safe snippet, when the query has no words to highlight."""
    text = " ".join(strip_sentinels(text).split())
    if len(text) > PLAIN_CHARS:
        text = text[:PLAIN_CHARS].rsplit(" ", 1)[0] + " …"
    return html.escape(text, quote=True)
