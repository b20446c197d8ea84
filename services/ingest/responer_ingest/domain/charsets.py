"""Bytes -> str with a charset fallback chain that never raises.

Real mail lies about its charset: `us-ascii` parts full of 8-bit bytes, `iso-8859-1` parts that are
windows-1252 (curly quotes in 0x80-0x9F), Polish mail sent as windows-1250 but labelled iso-8859-2 or
not labelled at all, and names no codec knows (`x-unknown`, `utf-8*pl`). The chain is: declared ->
utf-8 -> a windows-1250/iso-8859-2 heuristic for Polish -> windows-1252 -> latin-1 with replacement,
and every step past the declared charset is reported so the caller can record the repair.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

# Labels seen in the wild whose codec is a superset or a differently spelled name.
_ALIASES = {
    "iso-8859-1": "cp1252",  # browsers do the same: 0x80-0x9F are cp1252 punctuation in practice
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "x-sjis": "shift_jis",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-unknown": "",
    "unknown-8bit": "",
    "unknown": "",
    "default": "",
    "x-user-defined": "",
}

# Central European letters read as windows-1252 (Polish `ł ą ż ś` as Latin-2 or windows-1250 bytes)
# turn into symbols that Western text never puts between two letters: "Za¿ó³æ", "wiêcej", "Proszê".
# One such symbol inside a word (or a symbol starting a lower-case word) is the sign of a mislabelled latin-1/windows-1252 part.
_CENTRAL_AS_WESTERN = re.compile(
    r"(?<=[^\W\d_])[¹³¿¥£¯±¶¼¡¦¬Ÿ\x8c\x8f](?=[^\W\d_])"  # inside a word
    r"|(?<=[^\W\d_]{3})[¹³¿](?![^\W\d_])"  # ending a word: "by³", "proœb¹", "te¿" (not "cm³")
    r"|(?<![^\W\d_])[£¯¦¬¥](?=[a-zß-ÿ]{2})"  # a capital Ł Ż Ś Ź Ą starting a word: "£ódŸ"
)

# When the declared CJK codec fails, the text is nearly always in a sibling codec of the same
# language (Japanese bounces labelled iso-2022-jp but written in EUC-JP, Shift_JIS labelled as its
# Microsoft superset). Tried strictly, in order, before the Western fallbacks.
_SIBLINGS = {
    "iso2022_jp": ("euc_jp", "cp932"),
    "euc_jp": ("cp932", "iso2022_jp"),
    "shift_jis": ("cp932", "euc_jp"),
    "cp932": ("euc_jp",),
    "euc_kr": ("cp949", "iso2022_kr"),
    "iso2022_kr": ("cp949",),
    "cp949": ("iso2022_kr",),
    "big5": ("big5hkscs", "cp950"),
    "gb18030": ("big5",),
}

# Bytes that are Polish letters in only one of the two encodings (ą ś ź Ą Ś Ź).
_ISO_8859_2_ONLY = frozenset(b"\xb1\xb6\xbc\xa1\xa6\xac")
_CP1250_ONLY = frozenset(b"\xb9\x9c\x9f\xa5\x8c\x8f")
# Polish letters at the same byte in both (ł Ł ż Ż ę ń ć): a hint that the text is Central European.
_CENTRAL_SHARED = frozenset(b"\xb3\xa3\xbf\xaf\xea\xf1\xe6")


@lru_cache(maxsize=256)
def codec_for(label: str | None) -> str | None:
    """The Python codec name for a MIME charset label, or None when unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    # RFC 2231 language suffix (`utf-8*pl`) and stray parameters.
    name = name.split("*", 1)[0].split(";", 1)[0].strip()
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _central_european_codec(data: bytes) -> str | None:
    iso = sum(1 for b in data if b in _ISO_8859_2_ONLY)
    win = sum(1 for b in data if b in _CP1250_ONLY)
    shared = sum(1 for b in data if b in _CENTRAL_SHARED)
    if win == 0 and iso == 0 and shared < 2:
        return None
    # 0x80-0x9F are C1 controls in iso-8859-2, never text: their presence means windows-1250.
    if win >= iso or any(0x80 <= b <= 0x9F for b in data):
        return "cp1250"
    return "iso8859-2"


# Russian letter frequencies (per cent of letters): enough to tell koi8-r from windows-1251, which put
# the same bytes on unrelated letters ("тест" in koi8-r reads "ФЕУФ" in windows-1251).
_RUSSIAN_FREQUENCY = dict(
    zip(
        "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
        (
            11.0,
            8.5,
            8.0,
            7.4,
            6.7,
            6.3,
            5.5,
            4.7,
            4.5,
            4.4,
            3.5,
            3.2,
            3.0,
            2.8,
            2.6,
            2.0,
            1.9,
            1.7,
            1.7,
            1.6,
            1.6,
            1.4,
            1.2,
            1.0,
            0.9,
            0.7,
            0.6,
            0.5,
            0.4,
            0.3,
            0.2,
            0.04,
            0.04,
        ),
        strict=True,
    )
)


def _russian_score(text: str) -> float:
    score = 0.0
    for char in text:
        weight = _RUSSIAN_FREQUENCY.get(char)
        if weight is not None:
            score += weight * 1.1  # running text is mostly lower case
        else:
            score += _RUSSIAN_FREQUENCY.get(char.lower(), 0.0)
    return score


def _cyrillic_codec(data: bytes) -> str | None:
    """Undeclared Russian mail (koi8-r or windows-1251): nearly every letter is a high byte.

    Latin-script languages use high bytes only for accents, so a high-byte share above 60% of the
    letters means a Cyrillic 8-bit codec; which one is decided by how Russian the letters look.
    """
    high = sum(1 for b in data if b >= 0xC0)
    latin = sum(1 for b in data if 0x41 <= b <= 0x7A)
    if high < 3 or high < 1.5 * latin:
        return None
    sample = bytes(b for b in data[:4096] if b >= 0xC0)
    koi8 = _russian_score(sample.decode("koi8-r"))
    cp1251 = _russian_score(sample.decode("cp1251"))
    return "koi8-r" if koi8 >= cp1251 else "cp1251"


# 8-bit single-byte codecs decode any bytes without error, so a UTF-8 text labelled with one of them
# (webmail forms and list servers do this) would silently become "zamÃ³wienie".
_SINGLE_BYTE = frozenset(
    {"cp1252", "latin-1", "iso8859-2", "cp1250", "iso8859-15", "cp1251", "koi8-r", "koi8-u", "mac-roman"}
)
_SURROGATES = re.compile("[\udc80-\udcff]+")


def _is_utf8(data: bytes) -> bool:
    """Valid UTF-8 with at least one multi-byte sequence: in single-byte text that is (nearly) never
    an accident, because it needs a lead byte (0xC2-0xF4) followed by the right number of 0x80-0xBF."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not data.isascii()


def _mixed_utf8(data: bytes, *, declared_utf8: bool) -> str | None:
    """UTF-8 with stray 8-bit bytes (a Latin-1 footer appended by a list server, a pasted
    signature): keep the UTF-8 and read only the stray bytes as windows-1252. Declared UTF-8 needs
    one valid multi-byte character as evidence; undeclared text needs them to outnumber the strays."""
    text = data.decode("utf-8", "surrogateescape")
    stray = sum(len(m) for m in _SURROGATES.findall(text))
    good = sum(1 for c in text if c > "\x7f") - stray
    if good < 1 or (not declared_utf8 and (good < 2 or good < stray)):
        return None
    return _SURROGATES.sub(
        lambda m: m.group().encode("utf-8", "surrogateescape").decode("cp1252", "replace"), text
    )


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode `data`; returns (text, repair) where repair describes any deviation from `declared`."""
    if not data:
        return "", None
    codec = codec_for(declared)
    if codec in _SINGLE_BYTE and _is_utf8(data):
        return data.decode("utf-8"), f"{declared}->utf-8"
    if codec == "iso8859-2" and any(0x80 <= b <= 0x9F for b in data):
        # Labelled Latin-2 but carrying windows-1250 bytes (Outlook does this for Polish mail).
        return data.decode("cp1250", errors="replace"), f"{declared}->cp1250"
    if codec == "cp1252" and not data.isascii():
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            pass  # bytes undefined in windows-1252: not Western, the fallbacks below decide
        else:
            if not _CENTRAL_AS_WESTERN.search(text):
                return text, None
            polish = _central_european_codec(data) or "cp1250"
            return data.decode(polish, errors="replace"), f"{declared}->{polish}"
    if codec is not None:
        try:
            return data.decode(codec), None
        except (UnicodeDecodeError, LookupError):
            pass
        except Exception:  # some codecs (utf-7, iso-2022-*) raise other errors on garbage
            pass
    if data.isascii():
        return data.decode("ascii"), None
    label = declared or "none"
    try:
        return data.decode("utf-8"), f"{label}->utf-8"
    except UnicodeDecodeError:
        pass
    mixed = _mixed_utf8(data, declared_utf8=codec == "utf-8")
    if mixed is not None:
        return mixed, f"{label}->utf-8 with stray cp1252 bytes"
    for sibling in _SIBLINGS.get(codec or "", ()):
        try:
            return data.decode(sibling), f"{label}->{sibling}"
        except UnicodeDecodeError:
            continue
    cyrillic = _cyrillic_codec(data)
    if cyrillic is not None:
        return data.decode(cyrillic, errors="replace"), f"{label}->{cyrillic}"
    central = _central_european_codec(data)
    if central is not None:
        text = data.decode(central, errors="replace")
        if "\ufffd" not in text:
            return text, f"{label}->{central}"
    try:
        return data.decode("cp1252"), f"{label}->cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1", errors="replace"), f"{label}->latin-1"
