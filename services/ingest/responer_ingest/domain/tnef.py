"""TNEF (`winmail.dat`, application/ms-tnef): the files Outlook packed inside it.

Outlook sends rich-text mail to non-Exchange recipients as a TNEF blob; the real attachments (and
sometimes the only body) are inside, and a `winmail.dat` nobody can open is what the customer's
agent would otherwise see. Decoding uses `tnefparse` (pure Python, no I/O), imported only when a
TNEF part shows up because most mail never has one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_SIGNATURE = b"\x78\x9f\x3e\x22"  # 0x223E9F78, little-endian


@dataclass
class TnefContent:
    files: list[tuple[str, bytes]] = field(default_factory=list)
    text: str = ""
    html: str = ""


def is_tnef(ctype: str, filename: str, data: bytes) -> bool:
    """TNEF by type, or by name and signature (some gateways relabel it application/octet-stream)."""
    if not data.startswith(_SIGNATURE):
        return False
    return ctype in TNEF_TYPES or filename.lower() in ("winmail.dat", "win.dat")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        for codec in ("utf-8", "cp1252"):
            try:
                return value.decode(codec)
            except UnicodeDecodeError:
                continue
        return value.decode("latin-1")
    return value if isinstance(value, str) else ""


def read_tnef(data: bytes) -> TnefContent:
    """The attachments and body of a TNEF blob. Raises ValueError when it cannot be read."""
    import logging

    from tnefparse import TNEF

    # tnefparse logs every unknown attribute at WARNING; that is noise for mail we only unpack.
    logging.getLogger("tnefparse").setLevel(logging.ERROR)
    try:
        tnef = TNEF(data, do_checksum=False)
    except Exception as exc:  # tnefparse raises assorted errors on damaged blobs
        raise ValueError(f"unreadable TNEF: {type(exc).__name__}") from exc
    content = TnefContent()
    for index, attachment in enumerate(tnef.attachments, start=1):
        try:
            name = attachment.long_filename() or ""
        except Exception:
            name = ""
        payload = attachment.data if isinstance(attachment.data, bytes) else b""
        content.files.append((_text(name).strip("\x00 ") or f"attachment-{index}", payload))
    content.text = _text(tnef.body).strip("\x00")
    content.html = _text(tnef.htmlbody).strip("\x00")
    return content
