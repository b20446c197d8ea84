"""Diacritic folding in Python, the same as the backends' analysers (unaccent / asciifolding)."""

from __future__ import annotations

import unicodedata

# Letters that NFKD does not decompose into a base letter plus a combining mark.
_SPECIAL = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae"})


def fold(text: str) -> str:
    """Lower case without diacritics: `Żółw Łódź` -> `zolw lodz`."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
