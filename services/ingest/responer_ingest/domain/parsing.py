"""`parse_mail(raw) -> ParsedMail`: the one entry point from raw RFC 5322 bytes to facts.

Built on the stdlib `email` package with the compat32 policy and our own decoding: compat32 is about
4x faster than `policy.default`, never raises on header access (policy.default raises AttributeError
on `To: unlisted-recipients:;`, cpython#83281), and leaves charset decisions to us so that each repair
is recorded. `parse_mail` never raises: whatever cannot be understood becomes a parse defect.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from email.parser import HeaderParser
from email.utils import parsedate_to_datetime

from responer_ingest.domain.charsets import decode_bytes
from responer_ingest.domain.headers import (
    addresses,
    decode_header_value,
    first_message_id,
    message_ids,
    raw_to_str,
)
from responer_ingest.domain.html_text import html_to_text
from responer_ingest.domain.mail import AttachedMessage, Attachment, ParsedMail
from responer_ingest.domain.mime_parser import headers_only, message_from_bytes
from responer_ingest.domain.smime import PKCS7_MIME_TYPES, SIGNATURE_TYPES, signed_content
from responer_ingest.domain.tnef import is_tnef, read_tnef
from responer_ingest.domain.uuencode import extract_uuencoded

DERIVED_ID_DOMAIN = "derived.responer"

# Parts whose content is the header block of another message: the message a bounce is about.
_HEADER_PARTS = frozenset({"text/rfc822-headers", "message/rfc822-headers", "message/global-headers"})
# Machine-readable report parts, kept as text for classification.
_REPORT_PARTS = (
    frozenset(
        {
            "message/delivery-status",
            "message/global-delivery-status",
            "message/feedback-report",
            "message/disposition-notification",
            "message/global-disposition-notification",
        }
    )
    | _HEADER_PARTS
)
_ENCAPSULATED = frozenset({"message/rfc822", "message/global", "message/news"})
_QUOTED_ID_LINE = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_FILENAME_UNSAFE = re.compile(r"[\\/\x00-\x1f]+")
# A delimiter line of a multipart body whose boundary parameter is missing or wrong.
_DELIMITER = re.compile(r"^--([^\s\"][^\r\n\"]{0,75}?)[ \t]*\r?$", re.MULTILINE)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
# Attached messages inside attached messages are parsed too, up to this depth (zip-bomb-like nesting).
_MAX_NESTING = 8
_ATTACHED_HEADER = "-------- Attached message --------"


@dataclass
class _Body:
    # ("plain" | "html", text): HTML is converted to text only if it ends up as the body text,
    # because converting every alternative costs more than parsing the whole message.
    text: list[tuple[str, str]] = field(default_factory=list)
    html: list[str] = field(default_factory=list)

    def has_text(self) -> bool:
        return any(chunk.strip() for _, chunk in self.text)

    def render(self) -> str:
        chunks = (html_to_text(c) if kind == "html" else c for kind, c in self.text)
        return "\n\n".join(c.strip("\n") for c in chunks if c.strip())


@dataclass
class _Walk:
    part_types: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    quoted_ids: list[str] = field(default_factory=list)
    reports: list[tuple[str, str]] = field(default_factory=list)
    # Text parts that carry a file name but no `attachment` disposition (`name="report.txt"`): the
    # body when the message has no other text, as mail clients show them.
    fallback: list[tuple[str, str]] = field(default_factory=list)
    attached: list[AttachedMessage] = field(default_factory=list)
    # Text of inline attached messages, for a message whose only content they are.
    attached_text: list[str] = field(default_factory=list)
    signed: bool = False
    encrypted: bool = False
    depth: int = 0


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one message. Never raises; unparseable input yields a ParsedMail with defects."""
    try:
        return _parse(raw)
    except Exception as exc:  # the contract: no input may break ingest
        try:
            return _headers_and_raw_body(raw, exc)
        except Exception:
            return _unparseable(raw, exc)


def derived_message_id(raw: bytes) -> str:
    """A missing Message-ID derived from content: the same bytes always get the same id."""
    return f"{hashlib.sha256(raw).hexdigest()[:32]}@{DERIVED_ID_DOMAIN}"


def _parse(raw: bytes) -> ParsedMail:
    return _parse_message(message_from_bytes(raw), raw, depth=0)


def _parse_message(msg: Message, raw: bytes, *, depth: int) -> ParsedMail:
    walk = _Walk(depth=depth)
    raw_headers = [(name, value) for name, value in msg.raw_items()]
    headers: list[tuple[str, str]] = []
    for name, value in raw_headers:
        if not isinstance(value, str):
            value = str(value)
        if value.isascii() and "=?" not in value and "\n" not in value and "\r" not in value:
            headers.append((name, value.strip()))  # most headers: what decode_header_value would return
            continue
        decoded, repairs = decode_header_value(value)
        walk.repairs.extend(f"{name}: {r}" for r in repairs)
        headers.append((name, decoded))
    by_name: dict[str, list[str]] = {}
    for name, value in raw_headers:
        by_name.setdefault(name.lower(), []).append(str(value))

    def first(name: str) -> str | None:
        values = by_name.get(name)
        return values[0] if values else None

    message_id = first_message_id(first("message-id"))
    derived = not message_id
    if derived:
        message_id = derived_message_id(raw)
    own = {message_id}
    in_reply_to = _unique(message_ids(first("in-reply-to")), own)
    references = _unique(message_ids(" ".join(by_name.get("references", []))), own)

    subject, repairs = decode_header_value(first("subject") or "")
    walk.repairs.extend(f"Subject: {r}" for r in repairs)
    senders, repairs = addresses(by_name.get("from") or by_name.get("sender") or [])
    walk.repairs.extend(repairs)
    from_name, from_email = senders[0] if senders else ("", "")
    if not senders and by_name.get("from"):
        # `From: MAILER-DAEMON <>` has no address, but the name is what identifies the sender.
        from_name = decode_header_value(by_name["from"][0])[0].split("<", 1)[0].strip().strip('"')
    to, r_to = addresses(by_name.get("to", []))
    cc, r_cc = addresses(by_name.get("cc", []))
    reply_to, r_rt = addresses(by_name.get("reply-to", []))
    walk.repairs.extend(r_to + r_cc + r_rt)

    body = _Body()
    _visit(msg, walk, body)
    text = body.render() or _Body(text=walk.fallback).render() or "\n\n".join(walk.attached_text)
    html = "\n".join(body.html)
    attachments = _mark_referenced_inline(walk.attachments, html)
    if not walk.quoted_ids and text:
        walk.quoted_ids.extend(m.strip("<>") for m in _QUOTED_ID_LINE.findall(text))

    return ParsedMail(
        message_id=message_id,
        message_id_derived=derived,
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        from_name=from_name,
        from_email=from_email,
        to=to,
        cc=cc,
        reply_to=reply_to,
        date=_date(first("date"), walk),
        text=text,
        html=html,
        attachments=attachments,
        headers=tuple(headers),
        part_types=tuple(walk.part_types),
        parse_defects=tuple(dict.fromkeys(walk.defects)),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        raw_size=len(raw),
        quoted_message_ids=_unique(walk.quoted_ids, own),
        charset_repairs=tuple(dict.fromkeys(walk.repairs)),
        report_parts=tuple(walk.reports),
        attached_messages=tuple(walk.attached),
        signed=walk.signed,
        encrypted=walk.encrypted,
    )


def _mark_referenced_inline(attachments: list[Attachment], html: str) -> tuple[Attachment, ...]:
    """A part the HTML shows through `cid:` is inline whatever its disposition says (Outlook marks
    embedded signature logos `attachment`)."""
    if "cid:" not in html:
        return tuple(attachments)
    return tuple(
        replace(a, inline=True) if a.content_id and not a.inline and f"cid:{a.content_id}" in html else a
        for a in attachments
    )


def _unique(ids: list[str], exclude: set[str]) -> tuple[str, ...]:
    return tuple(i for i in dict.fromkeys(ids) if i not in exclude)


def _date(value: str | None, walk: _Walk) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(raw_to_str(value)[0].strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        walk.defects.append("UnparseableDate")
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _visit(part: Message, walk: _Walk, body: _Body | None, parent: str = "") -> None:
    """Depth-first over the MIME tree. `body` is None inside attached messages (not our text)."""
    ctype = part.get_content_type()
    walk.part_types.append(ctype)
    if part.defects:
        walk.defects.extend(type(d).__name__ for d in part.defects)
    if ctype in _REPORT_PARTS:
        _report_part(part, ctype, walk)
        return
    if ctype in _ENCAPSULATED:
        _encapsulated(part, walk, attach=body is not None)
        return
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/alternative" and body is not None:
            _alternative(children, walk, body)
        else:
            for child in children:
                _visit(child, walk, body, ctype)
        return
    if ctype.startswith("multipart/"):
        repaired = _repair_boundary(part, ctype, walk)
        if repaired is not None:
            walk.part_types.pop()
            _visit(repaired, walk, body, parent)
            return
        ctype = "text/plain"  # a multipart without parts: its content is all there is
    _leaf(part, ctype, walk, body, parent)


def _repair_boundary(part: Message, ctype: str, walk: _Walk) -> Message | None:
    """Re-split a multipart whose boundary parameter is missing or names no delimiter in the body.

    Seen in the wild: a folded `boundary=` line without leading whitespace (so it is not a header
    continuation), and gateways that rewrite the body but not the header. The boundary is the first
    delimiter-looking line that recurs and is followed by a header line.
    """
    try:
        data = part.get_payload(decode=True)  # bytes as received (get_payload() masks 8-bit bytes)
    except Exception:
        return None
    if not isinstance(data, bytes) or b"--" not in data:
        return None
    payload = data.decode("ascii", "surrogateescape")
    seen: dict[str, int] = {}
    for match in _DELIMITER.finditer(payload):
        token = match.group(1)
        if token.endswith("--") and len(token) > 2:
            token = token[:-2]
        seen[token] = seen.get(token, 0) + 1
    for token, count in seen.items():
        if count < 2:
            continue
        opening = re.compile(r"^--" + re.escape(token) + r"[ \t]*\r?\n[!-9;-~]+:", re.MULTILINE)
        if not opening.search(payload):
            continue
        head = f'Content-Type: {ctype}; boundary="{token}"\n\n'.encode()
        repaired = message_from_bytes(head + data)
        if repaired.is_multipart():
            walk.defects.append("BoundaryRepaired")
            return repaired
    return None


def _alternative(children: list[Message], walk: _Walk, body: _Body) -> None:
    """Pick plain text when the sender offered it, HTML for the html field; attachments from all."""
    options: list[tuple[str, _Body]] = []
    for child in children:
        sub = _Body()
        _visit(child, walk, sub)
        options.append((child.get_content_type(), sub))
    plain = [b for ctype, b in options if ctype == "text/plain" and b.has_text()]
    with_text = [b for _, b in options if b.has_text()]
    chosen = plain[0] if plain else (with_text[-1] if with_text else None)
    if chosen is not None:
        body.text.extend(chosen.text)
    with_html = [b for _, b in options if b.html]
    if with_html:
        body.html.extend(with_html[-1].html)


def _payload(part: Message, walk: _Walk) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # broken transfer encodings
        walk.defects.append(f"PayloadDecodeError:{type(exc).__name__}")
        data = None
    if not isinstance(data, bytes):
        raw = part.get_payload()
        data = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
    return data


def _filename(part: Message, walk: _Walk) -> str:
    disposition = content_type = None
    for key, header in part.raw_items():
        lowered = key.lower()
        if lowered == "content-disposition" and disposition is None:
            disposition = str(header)
        elif lowered == "content-type" and content_type is None:
            content_type = str(header)
    if disposition is None and "name" not in (content_type or "").lower():
        return ""  # no parameter that could carry a name: skip the costly parameter parsing
    source = part
    if not (disposition or "").isascii() or not (content_type or "").isascii():
        # compat32 masks raw 8-bit bytes in parameters as U+FFFD when asked for them: decode the
        # header values ourselves and read the parameters from the decoded text.
        source = Message()
        for key, raw_value in (("Content-Disposition", disposition), ("Content-Type", content_type)):
            if raw_value is not None:
                decoded, decode_repair = raw_to_str(raw_value)
                if decode_repair:
                    walk.repairs.append(f"filename: 8-bit parameter {decode_repair}")
                source[key] = decoded
    try:
        value = source.get_param("filename", None, "content-disposition")
        if value is None:
            value = source.get_param("name", None, "content-type")
    except Exception:
        walk.defects.append("BadFilenameParameter")
        return ""
    if value is None:
        return ""
    if isinstance(value, tuple):  # RFC 2231: (charset, language, text with bytes as latin-1)
        charset, _, text = value
        try:
            data = str(text).encode("latin-1")
        except UnicodeEncodeError:
            name = str(text)
        else:
            name, repair = decode_bytes(data, charset or None)
            if repair:
                walk.repairs.append(f"filename: {repair}")
    else:
        name = str(value)
    name, repairs = decode_header_value(name)
    walk.repairs.extend(f"filename: {r}" for r in repairs)
    return _FILENAME_UNSAFE.sub("_", name).strip()


def _decode_text(part: Message, ctype: str, data: bytes, walk: _Walk) -> str:
    charset = part.get_content_charset()
    if charset is None and ctype == "text/html":
        # HTML saved from a browser or an editor declares its charset in a <meta> tag only.
        meta = _META_CHARSET.search(data, 0, 4096)
        charset = meta.group(1).decode("ascii", "replace") if meta else None
    text, repair = decode_bytes(data, charset)
    if repair:
        walk.repairs.append(f"{ctype}: {repair}")
    if "\r" in text:  # base64 parts keep the sender's CRLF (Outlook); text uses \n
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _leaf(part: Message, ctype: str, walk: _Walk, body: _Body | None, parent: str) -> None:
    if ctype in SIGNATURE_TYPES:
        walk.signed = True  # a detached signature is not something the sender attached
        return
    disposition = part.get_content_disposition()
    filename = _filename(part, walk)
    is_text = ctype in ("text/plain", "text/html") and disposition != "attachment"
    if body is None:
        return  # text and attachments of an attached message belong to that message
    data = _payload(part, walk)
    if is_text and not filename:
        text = _decode_text(part, ctype, data, walk)
        if ctype == "text/html":
            body.html.append(text)
            body.text.append(("html", text))
            return
        text, files = extract_uuencoded(text)
        for name, content in files:
            _add_attachment(walk, name, "application/octet-stream", content, inline=False, cid="")
        body.text.append(("plain", text))
        return
    if is_text:
        walk.fallback.append(
            ("html" if ctype == "text/html" else "plain", _decode_text(part, ctype, data, walk))
        )
    elif ctype in PKCS7_MIME_TYPES or filename.lower().endswith(".p7m"):
        if _smime(part, data, walk, body):
            return
    elif is_tnef(ctype, filename, data) and _tnef(data, walk):
        return
    if not data and not filename:
        return
    cid = raw_to_str(str(part.get("Content-ID") or ""))[0].strip().strip("<>")
    # Inline means shown inside the body, not offered as a file: the HTML's images in
    # multipart/related (a part with a Content-ID, or an image) and unnamed inline parts. A named
    # inline part in multipart/mixed is a photo Apple Mail placed between paragraphs: the customer
    # attached it. `cid:` references in the HTML make a part inline afterwards, see
    # _mark_referenced_inline.
    related = parent == "multipart/related" and (bool(cid) or ctype.startswith("image/"))
    inline = (related and disposition != "attachment") or (disposition == "inline" and not filename)
    _add_attachment(walk, filename, ctype, data, inline=inline, cid=cid)


def _smime(part: Message, data: bytes, walk: _Walk, body: _Body) -> bool:
    """Opaque-signed S/MIME: walk the signed entity as if it were the part. False: keep the blob."""
    smime_type = str(part.get_param("smime-type") or "").lower()
    content = signed_content(data) if smime_type in ("", "signed-data") else None
    if content is None:
        if smime_type != "certs-only":
            walk.encrypted = True
            walk.defects.append(f"UnreadableSmime:{smime_type or 'unknown'}")
        return False
    walk.signed = True
    inner = message_from_bytes(content)
    _visit(inner, walk, body)
    return True


def _tnef(data: bytes, walk: _Walk) -> bool:
    """winmail.dat: list the files inside instead of the blob. False: keep the blob."""
    try:
        content = read_tnef(data)
    except ValueError as exc:
        walk.defects.append(f"UnreadableTnef:{exc}")
        return False
    if not content.files and not content.text and not content.html:
        walk.defects.append("TnefWithoutFilesOrBody")
        return False
    for name, payload in content.files:
        ctype = mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
        _add_attachment(walk, _FILENAME_UNSAFE.sub("_", name).strip(), ctype, payload, inline=False, cid="")
    if content.html:
        walk.fallback.append(("html", content.html))
    elif content.text:
        walk.fallback.append(("plain", content.text))
    return True


def _add_attachment(walk: _Walk, name: str, ctype: str, data: bytes, *, inline: bool, cid: str) -> None:
    walk.attachments.append(
        Attachment(
            filename=name,
            content_type=ctype,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            inline=inline,
            content_id=str(cid),
            payload=data,
        )
    )


def _encapsulated(part: Message, walk: _Walk, *, attach: bool) -> None:
    """An attached message (forward, or the original in a bounce): kept whole and parsed on its own.

    Its subject, sender and text go to `attached_messages` and its files stay with it; messages
    nested deeper (a digest inside a forward) belong to the attached message.
    """
    if part.is_multipart():
        inner = next((c for c in part.get_payload() if isinstance(c, Message)), None)
        data = b""
    else:  # a base64 or quoted-printable encoded message/rfc822, which compat32 leaves unparsed
        data = _payload(part, walk)
        inner = message_from_bytes(data) if data.strip() else None
    if inner is None:
        return
    if not attach or walk.depth >= _MAX_NESTING:
        _visit(inner, walk, None)
        return
    if not data:
        try:
            data = inner.as_bytes(policy=email.policy.compat32)
        except Exception:
            walk.defects.append("AttachedMessageNotSerialisable")
    nested = _parse_message(inner, data, depth=walk.depth + 1)
    walk.part_types.extend(nested.part_types)
    walk.defects.extend(nested.parse_defects)
    walk.repairs.extend(nested.charset_repairs)
    walk.signed = walk.signed or nested.signed
    if not nested.message_id_derived:
        walk.quoted_ids.append(nested.message_id)
    walk.attached.append(
        AttachedMessage(
            message_id=nested.message_id,
            subject=nested.subject,
            from_name=nested.from_name,
            from_email=nested.from_email,
            date=nested.date,
            text=nested.text,
            attachment_names=tuple(a.filename for a in nested.attachments if not a.inline),
        )
    )
    disposition = part.get_content_disposition()
    if nested.text and disposition != "attachment":
        sender = f"{nested.from_name} <{nested.from_email}>" if nested.from_name else nested.from_email
        walk.attached_text.append(
            f"{_ATTACHED_HEADER}\nFrom: {sender}\nSubject: {nested.subject}\n\n{nested.text}"
        )
    name = _filename(part, walk)
    if not name:
        name = _FILENAME_UNSAFE.sub("_", nested.subject or "message").strip()[:100] + ".eml"
    _add_attachment(walk, name, part.get_content_type(), data, inline=False, cid="")


def _block_text(block: Message) -> str:
    payload = block.get_payload()
    return f"\n\n{payload}" if isinstance(payload, str) and payload.strip() else ""


def _report_part(part: Message, ctype: str, walk: _Walk) -> None:
    if part.is_multipart():
        # compat32 parses delivery-status into one Message per field block.
        blocks = [c for c in part.get_payload() if isinstance(c, Message)]
        text = "\n\n".join(
            "\n".join(f"{k}: {raw_to_str(str(v))[0]}" for k, v in block.raw_items()) + _block_text(block)
            for block in blocks
        )
    else:
        text, _ = decode_bytes(_payload(part, walk), part.get_content_charset())
    walk.reports.append((ctype, text))
    if ctype in _HEADER_PARTS:
        try:
            inner = HeaderParser(policy=email.policy.compat32).parsestr(text.lstrip())
            inner_id = first_message_id(str(inner.get("Message-ID") or ""))
        except Exception:
            inner_id = ""
        if inner_id:
            walk.quoted_ids.append(inner_id)


def _headers_and_raw_body(raw: bytes, exc: Exception) -> ParsedMail:
    """Second line of defence: when the MIME structure breaks the walk, keep what the headers say
    (subject, sender, ids, threading) and the body as one text, so the message stays findable."""
    msg = headers_only(raw)
    del msg["Content-Type"]
    del msg["Content-Transfer-Encoding"]
    mail = _parse_message(msg, raw, depth=0)
    return replace(mail, parse_defects=(f"Unparseable:{type(exc).__name__}: {exc}", *mail.parse_defects))


def _unparseable(raw: bytes, exc: Exception) -> ParsedMail:
    text, repair = decode_bytes(raw, None) if isinstance(raw, bytes | bytearray) else ("", None)
    raw_bytes = bytes(raw) if isinstance(raw, bytes | bytearray) else b""
    return ParsedMail(
        message_id=derived_message_id(raw_bytes),
        message_id_derived=True,
        in_reply_to=(),
        references=(),
        subject="",
        from_name="",
        from_email="",
        to=(),
        cc=(),
        reply_to=(),
        date=None,
        text=text,
        html="",
        attachments=(),
        headers=(),
        part_types=(),
        parse_defects=(f"Unparseable:{type(exc).__name__}: {exc}",),
        raw_sha256=hashlib.sha256(raw_bytes).hexdigest(),
        raw_size=len(raw_bytes),
        quoted_message_ids=(),
        charset_repairs=(repair,) if repair else (),
    )
