from __future__ import annotations

from datetime import UTC, datetime

import pytest
from responer_search.domain import snippet
from responer_search.domain.cursor import Cursor, InvalidCursor

pytestmark = pytest.mark.unit


def test_a_cursor_round_trips_to_the_microsecond():
    cursor = Cursor(datetime(2026, 11, 2, 9, 0, 0, 123456, tzinfo=UTC), "thread:with:colons")
    assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode("") is None


@pytest.mark.parametrize("token", ["x", "!!!", "MToxOg", "Mjp4Onk", "MTphYmM6dA"])
def test_cursors_we_did_not_issue_are_refused(token):
    with pytest.raises(InvalidCursor):
        Cursor.decode(token)


def test_snippets_escape_everything_but_the_marks():
    marked = f'<b>"x"</b> & {snippet.START}kettle{snippet.STOP}'
    assert snippet.render(marked) == "&lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; <mark>kettle</mark>"
    assert snippet.plain(f"<i>{snippet.START}</i>") == "&lt;i&gt;&lt;/i&gt;"
