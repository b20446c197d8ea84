"""Deterministic ids from natural keys: the same fact always lands on the same aggregate."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

FIRST_THREAD_NUMBER = 1000


def tenant_namespace(tenant_id: str) -> UUID:
    try:
        return UUID(tenant_id)
    except ValueError:
        return uuid5(NAMESPACE_URL, f"responer:tenant:{tenant_id}")


def thread_id(tenant_id: str, number: int) -> UUID:
    return uuid5(tenant_namespace(tenant_id), f"thread:{number}")


def message_ref_id(tenant_id: str, message_id: str) -> UUID:
    return uuid5(tenant_namespace(tenant_id), f"msgid:{message_id}")


def counter_id(tenant_id: str) -> UUID:
    return uuid5(tenant_namespace(tenant_id), "thread-counter")


def subject_key_id(tenant_id: str, mailbox_id: str, customer: str, subject: str) -> UUID:
    return uuid5(tenant_namespace(tenant_id), f"subject:{mailbox_id}\x00{customer}\x00{subject}")


def threaded_message_id(tenant_id: str, responer_message_id: UUID) -> UUID:
    return uuid5(tenant_namespace(tenant_id), f"threaded:{responer_message_id}")


def customer_key_id(tenant_id: str, mailbox_id: str, customer: str) -> UUID:
    return uuid5(tenant_namespace(tenant_id), f"customer:{mailbox_id}\x00{customer}")


def policy_id(tenant_id: str, mailbox_id: str) -> UUID:
    return uuid5(tenant_namespace(tenant_id), f"policy:{mailbox_id}")


def tenant_domains_id(tenant_id: str) -> UUID:
    return uuid5(tenant_namespace(tenant_id), "domains")


def operation_id(tenant_id: str, kind: str, op_id: str) -> UUID:
    return uuid5(tenant_namespace(tenant_id), f"{kind}:{op_id}")


def machine_sender_id(tenant_id: str, address: str) -> UUID:
    return uuid5(tenant_namespace(tenant_id), f"machine-sender:{address}")


def recipient_key_id(tenant_id: str, mailbox_id: str, address: str) -> UUID:
    return uuid5(tenant_namespace(tenant_id), f"recipient:{mailbox_id}\x00{address}")
