"""Sending-provider event notifications: bounces, complaints and deliveries sent as JSON mail.

Amazon SES publishes them through SNS to an e-mail subscription ("AWS Notification Message"): the
body is the SES event as JSON, bare or wrapped in the SNS envelope (`"Type": "Notification"`, the
event as a string in `"Message"`). It is from a no-reply sender, so without this filter it would be
filed as a plain notification; its kind and the failed recipient are in the JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

from responer_routing.domain.system_mail.facts import IncomingMail, SortingPolicy
from responer_routing.domain.system_mail.verdict import Verdict

_DECODER = json.JSONDecoder(strict=False)
# A relay that splits over-long lines (sendmail: over 990 characters) leaves "!" + newline + space.
_SPLIT_LINE = re.compile(r"!\r?\n ")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


def _load(text: str) -> dict[str, Any] | None:
    body = _SPLIT_LINE.sub("", text.lstrip())
    if not body.startswith("{"):
        return None  # the event is the whole body; JSON quoted inside prose is a person's mail
    try:
        value, _ = _DECODER.raw_decode(body)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if value.get("Type") == "Notification" and isinstance(value.get("Message"), str):
        try:
            inner = json.loads(value["Message"], strict=False)
        except ValueError:
            return None
        return inner if isinstance(inner, dict) else None
    return value


def _part(event: dict[str, Any], key: str) -> dict[str, Any]:
    value = event.get(key)
    return value if isinstance(value, dict) else {}


def _first(items: object) -> dict[str, Any]:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def detect_esp_event(mail: IncomingMail, policy: SortingPolicy) -> Verdict | None:
    if "notificationType" not in mail.text[:2000] and "eventType" not in mail.text[:2000]:
        return None
    event = _load(mail.text)
    if event is None:
        return None
    kind = str(event.get("notificationType") or event.get("eventType") or "").lower()
    if kind == "bounce":
        bounce = _part(event, "bounce")
        first = _first(bounce.get("bouncedRecipients"))
        address = str(first.get("emailAddress") or "").lower() or None
        return Verdict.system_mail(
            "bounce",
            f"SES bounce notification ({bounce.get('bounceType', 'unknown')}/{bounce.get('bounceSubType', '')})",
            recipient=address,
            status=str(first.get("status") or "") or None,
        )
    if kind == "complaint":
        complaint = _part(event, "complaint")
        return Verdict.system_mail(
            "feedback_report",
            f"SES complaint notification ({complaint.get('complaintFeedbackType', 'unknown type')})",
        )
    if kind == "deliverydelay":  # a delayed delivery is reported like a delayed DSN: a (soft) bounce
        first = _first(_part(event, "deliveryDelay").get("delayedRecipients"))
        return Verdict.system_mail(
            "bounce",
            "SES delivery-delay notification",
            recipient=str(first.get("emailAddress") or "").lower() or None,
            status=str(first.get("status") or "") or None,
        )
    if kind == "delivery":
        delivery = _part(event, "delivery")
        recipients = delivery.get("recipients")
        address = str(recipients[0]).lower() if isinstance(recipients, list) and recipients else None
        code = _STATUS.search(str(delivery.get("smtpResponse") or ""))
        return Verdict.system_mail(
            "delivery_notification",
            "SES delivery notification",
            recipient=address,
            status=code.group(1) if code else None,
        )
    return None
