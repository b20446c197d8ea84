"""ParsedMail (ingest's domain) -> the Mail protobuf every consumer reads."""

from __future__ import annotations

from responer.events.v1 import mail_pb2

from responer_ingest.domain.mail import ParsedMail


def _address(name: str, email: str) -> mail_pb2.Address:
    return mail_pb2.Address(name=name or "", email=email or "")


def to_mail_proto(parsed: ParsedMail) -> mail_pb2.Mail:
    mail = mail_pb2.Mail(
        message_id=parsed.message_id,
        in_reply_to=list(parsed.in_reply_to),
        references=list(parsed.references),
        subject=parsed.subject,
        to=[_address(n, e) for n, e in parsed.to],
        cc=[_address(n, e) for n, e in parsed.cc],
        reply_to=[_address(n, e) for n, e in parsed.reply_to],
        text=parsed.text,
        html=parsed.html,
        attachments=[
            mail_pb2.Attachment(
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                sha256=a.sha256,
                inline=a.inline,
                content_id=a.content_id,
            )
            for a in parsed.attachments
        ],
        headers=[mail_pb2.Header(name=k, value=v) for k, v in parsed.headers],
        part_types=list(parsed.part_types),
        parse_defects=list(parsed.parse_defects),
        raw_sha256=parsed.raw_sha256,
        raw_size=parsed.raw_size,
        direction=mail_pb2.DIRECTION_INBOUND,
        quoted_message_ids=list(parsed.quoted_message_ids),
        report_parts=[mail_pb2.ReportPart(content_type=c, text=t) for c, t in parsed.report_parts],
        charset_repairs=list(parsed.charset_repairs),
        message_id_derived=parsed.message_id_derived,
    )
    mail.__getattribute__("from").CopyFrom(_address(parsed.from_name, parsed.from_email))
    if parsed.date is not None:
        mail.date.FromDatetime(parsed.date)
    return mail
