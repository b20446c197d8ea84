"""S/MIME: the readable content of `application/pkcs7-mime; smime-type=signed-data` (RFC 8551).

Opaque-signed mail wraps the whole MIME entity in a CMS SignedData structure, so without unwrapping
it a client sees only an `smime.p7m` blob. Unwrapping needs no cryptography: the signed content sits
in `encapContentInfo.eContent`. Signatures are not verified here (that needs trust anchors, and an
invalid signature must not hide the mail); encrypted (enveloped-data) mail stays an attachment.

A minimal BER reader is enough: definite and indefinite lengths (`openssl smime -stream` and Outlook
write indefinite ones) and constructed OCTET STRINGs (the content split into chunks).
"""

from __future__ import annotations

_SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
_MAX_DEPTH = 64

# Content types and parameters that mark a part as a signature rather than something the user sent.
SIGNATURE_TYPES = frozenset(
    {
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-signature",
    }
)
PKCS7_MIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})


class BerError(ValueError):
    pass


class _Node:
    __slots__ = ("tag", "constructed", "start", "end", "next")

    def __init__(self, tag: int, constructed: bool, start: int, end: int, next_: int) -> None:
        self.tag, self.constructed, self.start, self.end, self.next = tag, constructed, start, end, next_


def _read(data: bytes, pos: int, depth: int = 0) -> _Node:
    """The TLV at `pos`: tag number (class bits kept in the first byte), content span, next position."""
    if depth > _MAX_DEPTH or pos + 2 > len(data):
        raise BerError("truncated or too deep")
    first = data[pos]
    constructed = bool(first & 0x20)
    pos += 1
    if first & 0x1F == 0x1F:  # high tag number: base-128 continuation bytes
        while pos < len(data) and data[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= len(data):
        raise BerError("truncated")
    length = data[pos]
    pos += 1
    if length == 0x80:
        if not constructed:
            raise BerError("indefinite length on a primitive")
        child = pos
        while data[child : child + 2] != b"\x00\x00":
            child = _read(data, child, depth + 1).next
            if child >= len(data):
                raise BerError("missing end-of-contents")
        return _Node(first, constructed, pos, child, child + 2)
    if length & 0x80:
        count = length & 0x7F
        if count > 4 or pos + count > len(data):
            raise BerError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise BerError("content beyond the end")
    return _Node(first, constructed, pos, end, end)


def _children(data: bytes, node: _Node) -> list[_Node]:
    out = []
    pos = node.start
    while pos < node.end:
        child = _read(data, pos)
        out.append(child)
        pos = child.next
    return out


def _octets(data: bytes, node: _Node) -> bytes:
    if not node.constructed:
        return data[node.start : node.end]
    return b"".join(_octets(data, child) for child in _children(data, node))


def signed_content(der: bytes) -> bytes | None:
    """The encapsulated content of a CMS SignedData ContentInfo, or None if it is not one.

    ContentInfo ::= SEQUENCE { contentType OID, [0] EXPLICIT SignedData }
    SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo SEQUENCE {
        eContentType OID, [0] EXPLICIT OCTET STRING OPTIONAL }, ... }
    """
    try:
        info = _read(der, 0)
        oid, wrapper = _children(der, info)[:2]
        if der[oid.start : oid.end] != _SIGNED_DATA_OID or wrapper.tag != 0xA0:
            return None
        signed = _children(der, wrapper)[0]
        encap = _children(der, signed)[2]
        parts = _children(der, encap)
        if len(parts) < 2 or parts[1].tag != 0xA0:
            return None  # detached signature: the content travels elsewhere
        return _octets(der, _children(der, parts[1])[0])
    except (BerError, IndexError, ValueError):
        return None
