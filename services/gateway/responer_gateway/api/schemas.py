"""Request and response bodies of the HTTP API (XCreate for input, XPublic for output)."""

from __future__ import annotations

import re
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def check_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address like support@example.com")
    return value.lower()


# -- auth and users ---------------------------------------------------------------------------------
class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class TenantPublic(BaseModel):
    id: str
    name: str


class UserPublic(BaseModel):
    id: str
    email: str
    name: str
    role: str
    tenant: TenantPublic
    available: bool = False
    skills: list[str] = []
    max_open: int = 0


class LoginPublic(BaseModel):
    token: str
    expires_in: int
    user: UserPublic


class UserCreate(BaseModel):
    email: str = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=1024)
    role: Literal["admin", "agent"] = "agent"

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        return check_email(v)


# -- threads and messages -------------------------------------------------------------------------
class AddressPublic(BaseModel):
    name: str
    email: str


class FolderPublic(BaseModel):
    folder: str
    threads: int


class ThreadPublic(BaseModel):
    id: str
    number: int
    subject: str
    folder: str
    status: str
    customer: AddressPublic
    message_count: int
    last_message_at: str | None
    snippet: str = Field(description="HTML-escaped excerpt; search hits are wrapped in <mark>")
    system_reason: str
    mailbox_id: str
    assignee_user_id: str
    unread: bool = Field(
        False, description="for you: a customer wrote since you last opened it, or you marked it unread"
    )


class ThreadsPublic(BaseModel):
    threads: list[ThreadPublic]
    next_cursor: str | None
    total: int


class MailboxRefPublic(BaseModel):
    id: str
    address: str


class AttachmentPublic(BaseModel):
    filename: str
    content_type: str
    size: int


class MessagePublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    message_id: str
    direction: Literal["inbound", "outbound"]
    from_: AddressPublic = Field(alias="from")
    to: list[AddressPublic]
    cc: list[AddressPublic]
    reply_to: list[AddressPublic]
    subject: str
    date: str | None
    text: str
    html: str = Field(description="sanitised HTML (no scripts, handlers or remote images); empty if none")
    attachments: list[AttachmentPublic]
    mailbox_id: str
    mailbox_address: str
    other_mailboxes: list[MailboxRefPublic] = Field(
        default_factory=list, description="the same mail arrived in these mailboxes of yours too"
    )


class ThreadDetailPublic(ThreadPublic):
    messages: list[MessagePublic]
    mailboxes: list[MailboxRefPublic] = Field(
        default_factory=list, description="every mailbox the conversation is in, the first one first"
    )


# -- replies --------------------------------------------------------------------------------------
class ReplyCreate(BaseModel):
    body: str = Field(min_length=1, max_length=200_000)
    reply_id: uuid.UUID | None = Field(
        default=None, description="idempotency key; a repeat returns the first reply"
    )

    @field_validator("body")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v


class ReplyPublic(BaseModel):
    reply_id: str
    thread_id: str
    status: str
    message_id: str
    error: str
    attempts: int
    sent_at: str | None


# -- mailboxes ------------------------------------------------------------------------------------
class MailboxCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(max_length=320)
    imap_host: str = Field(min_length=1, max_length=253)
    imap_port: int = Field(default=993, ge=1, le=65535)
    tls_mode: Literal["tls", "starttls", "plain"] = "tls"
    username: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=4096)
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1, max_length=50)
    smtp_host: str | None = Field(default=None, max_length=253)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_tls_mode: Literal["tls", "starttls", "plain"] | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        return check_email(v)

    @field_validator("imap_host", "smtp_host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return v or None
        v = v.strip().lower()
        if not _HOST.match(v):
            raise ValueError("must be a host name or IP address")
        return v

    @field_validator("folders")
    @classmethod
    def _folders(cls, v: list[str]) -> list[str]:
        cleaned = [f.strip() for f in v]
        if any(not f for f in cleaned):
            raise ValueError("folder names must not be empty")
        return cleaned

    @model_validator(mode="after")
    def _plain_only_locally(self) -> MailboxCreate:
        # Sending a password over an unencrypted connection is only acceptable on this machine.
        if self.tls_mode == "plain" and self.imap_host not in LOCAL_HOSTS:
            raise ValueError("tls_mode 'plain' is only allowed for localhost/127.0.0.1; use tls or starttls")
        if self.smtp_tls_mode == "plain" and (self.smtp_host or "") not in LOCAL_HOSTS:
            raise ValueError("smtp_tls_mode 'plain' is only allowed for a localhost/127.0.0.1 smtp_host")
        return self


class MailboxPublic(BaseModel):
    id: str
    name: str
    address: str
    imap_host: str
    imap_port: int
    tls_mode: str
    username: str
    folders: list[str]
    messages_received: int
    last_sync_at: str | None
    last_error: str
    smtp_host: str
    smtp_port: int
