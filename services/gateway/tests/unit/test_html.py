"""Mail HTML is sanitised before it reaches a browser."""

from __future__ import annotations

import pytest
from responer_gateway.adapters.html import sanitise_html

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        '<div style="background:url(https://t.example/p.gif)">x</div>',
        '<iframe src="https://evil.example"></iframe>',
        '<form action="https://evil.example"><input name=p></form>',
        "<svg onload=alert(1)></svg>",
        '<meta http-equiv="refresh" content="0;url=https://evil.example">',
        '<base href="https://evil.example/">',
        "<style>@import url(https://t.example/x.css)</style>",
    ],
)
def test_active_and_remote_content_is_removed(hostile):
    clean = sanitise_html(f"<p>Dzień dobry</p>{hostile}")
    for bad in ("<script", "onerror", "onload", "javascript:", "data:text", "evil.example", "t.example", "<form", "<meta", "<base"):  # fmt: skip
        assert bad not in clean, (hostile, clean)
    assert "<p>Dzień dobry</p>" in clean


def test_remote_images_are_dropped_but_inline_ones_and_formatting_stay():
    html = (
        '<p>Zażółć <b>gęślą</b> <a href="https://shop.test/z">jaźń</a></p>'
        '<img src="https://tracker.test/p.gif" alt="logo"><img src="data:image/png;base64,AAAA">'
        '<table><tr><td colspan="2">1</td></tr></table>'
    )
    clean = sanitise_html(html)
    assert "tracker.test" not in clean and 'alt="logo"' in clean
    assert 'src="data:image/png;base64,AAAA"' in clean
    assert '<a href="https://shop.test/z" rel="noopener noreferrer nofollow">jaźń</a>' in clean
    assert '<td colspan="2">1</td>' in clean
    assert sanitise_html(html, allow_remote_images=False) == clean
    assert sanitise_html("") == ""
