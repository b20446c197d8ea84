"""Sanitising mail HTML for display: no scripts, no event handlers, no remote content by default.

The web UI additionally renders the result in an iframe with an empty sandbox, so even a sanitiser
bug cannot run script in the app's origin. Remote images are dropped because loading them tells the
sender that (and when, and from where) the mail was read; inline data: images are kept.
"""

from __future__ import annotations

import nh3

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup", "dd", "del",
    "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "*": {"align", "dir", "lang", "title"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "td": {"colspan", "rowspan", "valign", "width"},
    "th": {"colspan", "rowspan", "valign", "width"},
    "table": {"border", "cellpadding", "cellspacing", "width"},
    "col": {"span", "width"},
    "ol": {"start", "type"},
}


def _filter(allow_remote_images: bool):  # noqa: ANN202
    def attribute_filter(element: str, attribute: str, value: str) -> str | None:
        if element == "img" and attribute == "src":
            src = value.strip().lower()
            if src.startswith("data:image/") or (allow_remote_images and src.startswith("https://")):
                return value
            return None
        if attribute == "href" and value.strip().lower().startswith("data:"):
            return None
        return value

    return attribute_filter


def sanitise_html(html: str, *, allow_remote_images: bool = False) -> str:
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags={"script", "style", "head", "title", "template", "noscript", "iframe", "object"},
        attributes=_ATTRIBUTES,
        attribute_filter=_filter(allow_remote_images),
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
