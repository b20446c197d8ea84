"""Header-level decoding: RFC 2047 encoded words, 8-bit raw headers, Message-ID lists, addresses."""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from email.utils import getaddresses

from responer_ingest.domain.charsets import decode_bytes

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
# Whitespace between two adjacent encoded words is not part of the text (RFC 2047 §6.2).
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")
_FOLD = re.compile(r"\r?\n[ \t]*")
_ANGLE_ID = re.compile(r"<([^<>]*)>")
_BARE_ID = re.compile(r"[^\s<>,;()\"]+@[^\s<>,;()\"]+")


def raw_to_str(value: str) -> tuple[str, str | None]:
    """compat32 keeps 8-bit header bytes as surrogate escapes; turn them back into text."""
    try:
        value.encode("utf-8")
        return value, None
    except UnicodeEncodeError:
        data = value.encode("ascii", "surrogateescape")
        return decode_bytes(data, None)


def unfold(value: str) -> str:
    return _FOLD.sub(" ", value).strip()


def _word_bytes(encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "bB":
            cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        return quopri.decodestring(text.replace("_", " ").encode("latin-1", "replace"), header=False)
    except (binascii.Error, ValueError):
        return None


def decode_header_value(value: str) -> tuple[str, list[str]]:
    """Unfold and decode one header value; returns (text, repairs).

    Adjacent encoded words in one charset are joined as bytes before decoding, as RFC 2047 §6.2
    intends: Outlook and Exchange split a word wherever the line fills up, also inside a UTF-8
    character or an ISO-2022-JP escape sequence, so the words cannot be decoded one by one.
    """
    repairs: list[str] = []
    text, repair = raw_to_str(value)
    if repair:
        repairs.append(f"8-bit header {repair}")
    text = unfold(text)
    if "=?" not in text:
        return text, repairs
    text = _BETWEEN_WORDS.sub(r"\1\2", text)
    out: list[str] = []
    run: bytearray = bytearray()
    run_charset = ""
    run_end = -1
    position = 0

    def flush() -> None:
        nonlocal run, run_charset
        if run_charset:
            decoded, word_repair = decode_bytes(bytes(run), run_charset)
            if word_repair:
                repairs.append(f"encoded word {word_repair}")
            out.append(decoded)
        run, run_charset = bytearray(), ""

    for match in _ENCODED_WORD.finditer(text):
        charset, encoding, payload = match.group(1), match.group(2), match.group(3)
        data = _word_bytes(encoding, payload)
        if data is None:
            flush()
            out.append(text[position : match.end()])
            repairs.append(f"encoded word bad encoded word ({charset})")
            position = run_end = match.end()
            continue
        if match.start() != run_end or charset.lower() != run_charset.lower():
            flush()
            out.append(text[position : match.start()])
            run_charset = charset
        run += data
        position = run_end = match.end()
    flush()
    out.append(text[position:])
    decoded = "".join(out)
    if "\n" in decoded or "\r" in decoded or "\t" in decoded:
        decoded = re.sub(r"[\r\n\t]+", " ", decoded)
    return decoded.strip(), repairs


def _clean_id(token: str) -> str:
    return "".join(token.split()).strip("<>")


def message_ids(value: str | None) -> list[str]:
    """Message-IDs in a References / In-Reply-To / Message-ID value, in order, without brackets.

    Tolerates folding inside ids, missing brackets and trailing comments such as
    `<id> (Your message of ...)`; bracketed tokens win over bare ones because a bare
    `user@host` in a comment is an address, not an id.
    """
    if not value:
        return []
    value = unfold(raw_to_str(value)[0])
    ids = [_clean_id(m) for m in _ANGLE_ID.findall(value)]
    ids = [i for i in ids if i]
    if not ids:
        ids = [_clean_id(m) for m in _BARE_ID.findall(value)]
    return ids


def first_message_id(value: str | None) -> str:
    ids = message_ids(value)
    if ids:
        return ids[0]
    if value:
        # A Message-ID without "@" or brackets is still the sender's id for the message.
        token = "".join(unfold(raw_to_str(value)[0]).split())
        return token.strip("<>")[:998]
    return ""


def addresses(values: list[str]) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """(name, lower-cased email) pairs from raw address headers; group syntax and junk are skipped."""
    repairs: list[str] = []
    raw = []
    for value in values:
        text, repair = raw_to_str(value)
        if repair:
            repairs.append(f"8-bit address header {repair}")
        raw.append(unfold(text))
    result: list[tuple[str, str]] = []
    try:
        pairs = getaddresses(raw)
    except Exception:  # getaddresses has raised on pathological input in past Python releases
        pairs = []
    for name, addr in pairs:
        addr = addr.strip().lower()
        if not addr or addr.endswith(":") or addr == ";":
            continue
        if name:
            name, name_repairs = decode_header_value(name)
            repairs.extend(name_repairs)
        result.append((name.strip(), addr))
    return tuple(result), repairs
