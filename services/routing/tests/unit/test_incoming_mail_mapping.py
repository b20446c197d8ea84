"""The routing service must hand the sorting pipeline every fact the dry run hands it."""

from __future__ import annotations

import dataclasses

import pytest
from responer.events.v1 import mail_pb2
from responer_routing.domain.system_mail import IncomingMail
from responer_routing.handlers import incoming_mail

pytestmark = pytest.mark.unit


def test_every_incoming_mail_field_is_filled_from_a_full_mail() -> None:
    mail = mail_pb2.Mail(
        message_id="m1@example.com",
        subject="Twoje zamówienie zostało wysłane",
        text="Dzień dobry",
        html='<table role="presentation"><tr><td>Status</td></tr></table>',
        headers=[mail_pb2.Header(name="X-Mailer", value="Shop 1.0")],
        part_types=["multipart/alternative", "text/plain", "text/html"],
        report_parts=[mail_pb2.ReportPart(content_type="message/delivery-status", text="Status: 5.1.1")],
    )
    getattr(mail, "from").CopyFrom(mail_pb2.Address(name="Sklep", email="powiadomienia@sklep.example"))
    facts = incoming_mail(mail)
    empty = [f.name for f in dataclasses.fields(IncomingMail) if not getattr(facts, f.name)]
    assert empty == [], f"not mapped from the Mail event: {empty}"
    assert facts.html == mail.html
