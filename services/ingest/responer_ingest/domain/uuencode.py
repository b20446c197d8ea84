"""Inline uuencoded files in text bodies (Lotus Notes, old Outlook: `begin 644 name` ... `end`)."""

from __future__ import annotations

import binascii
import re

_BLOCK = re.compile(r"^begin [0-7]{3,4} ([^\r\n]+)\r?\n(.*?)^end[ \t]*$", re.MULTILINE | re.DOTALL)


def _decode_lines(body: str) -> bytes:
    out = bytearray()
    for line in body.splitlines():
        if not line or line == "`":
            continue
        if not line.isascii():
            continue  # a line damaged in transit: skip it, keep the rest of the file
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad badly; decode the length the line claims (the stdlib recipe).
            nbytes = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3
            try:
                out += binascii.a2b_uu(line[:nbytes])
            except binascii.Error:
                continue
    return bytes(out)


def extract_uuencoded(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Returns the text with uuencoded blocks removed and the (filename, bytes) files found."""
    if "begin " not in text:
        return text, []
    files: list[tuple[str, bytes]] = []

    def cut(match: re.Match[str]) -> str:
        files.append((match.group(1).strip(), _decode_lines(match.group(2))))
        return ""

    return _BLOCK.sub(cut, text), files
