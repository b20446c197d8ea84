"""Folders: the system folders every tenant has, and the rules for a tenant's own folder names."""

from __future__ import annotations

import uuid

INBOX, SYSTEM, MINE, UNASSIGNED, CLOSED, SPAM = "Inbox", "System", "Mine", "Unassigned", "Closed", "Spam"
# Inbox/System/Spam hold threads; Mine/Unassigned/Closed are views over assignment and status.
SYSTEM_FOLDERS = (INBOX, MINE, UNASSIGNED, SYSTEM, CLOSED, SPAM)
FILING_FOLDERS = (INBOX, SYSTEM, SPAM)
MAX_NAME = 80


class FolderError(ValueError):
    pass


def folder_id_for(tenant_id: str, name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(tenant_id), f"folder:{name.strip().casefold()}"))


def clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise FolderError("a folder needs a name")
    if len(cleaned) > MAX_NAME:
        raise FolderError(f"a folder name may be at most {MAX_NAME} characters")
    if cleaned.casefold() in {f.casefold() for f in SYSTEM_FOLDERS}:
        raise FolderError(f"{cleaned!r} is a system folder")
    return cleaned
