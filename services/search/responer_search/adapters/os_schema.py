"""OpenSearch index templates and aliases of the search read model.

Every index is reached through an alias (`<prefix>-messages`, `-threads`, `-timeline`, `-users`,
`-tracking`) that points at one generation (`<prefix>-messages-g<n>`). A reindex fills generation
n+1 while n keeps answering, then swaps every alias in one atomic `_aliases` call: no downtime.
Templates (`<prefix>-<kind>-template`) give each new generation its settings and mappings.
"""

from __future__ import annotations

from typing import Any

KINDS = ("messages", "threads", "timeline", "users", "tracking")

_KW = {"type": "keyword", "normalizer": "fold"}
_TEXT = {"type": "text", "analyzer": "fold"}
_THREAD_FIELDS: dict[str, Any] = {
    "tenant_id": {"type": "keyword"},
    "thread_id": {"type": "keyword"},
    "number": {"type": "long"},
    "folder": {"type": "keyword"},
    "folder_kw": _KW,
    "status": {"type": "keyword"},
    "assignee_user_id": {"type": "keyword"},
    "assignee_group_id": {"type": "keyword"},
    "group_kw": _KW,
    "tags": {"type": "keyword"},
    "tags_kw": _KW,
    "notes": _TEXT,
    "listed": {"type": "boolean"},
    "last_message_at": {"type": "date"},
    # Per-user unread state (see OpenSearchBackend.mark_read): who has read the thread since its last
    # inbound message, who marked it unread, and when a customer last wrote.
    "last_inbound_at": {"type": "date"},
    "read_by": {"type": "keyword"},
    "unread_marks": {"type": "keyword"},
}


# Fields added to a kind after its indices may exist: ensure_schema() puts them on the live index too.
ADDED_FIELDS: dict[str, dict[str, Any]] = {
    "messages": {
        # The same mail seen in other mailboxes of the tenant (ThreadMailboxAdded).
        "other_mailbox_ids": {"type": "keyword"},
        "other_mailbox_addresses": {"type": "keyword", "index": False},
        "other_mailbox_kw": _KW,
    },
}


def analysis(stempel: bool) -> dict[str, Any]:
    """ASCII folding everywhere; Polish stemming as an extra sub-field where analysis-stempel exists."""
    analyzers: dict[str, Any] = {
        "fold": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}
    }
    if stempel:
        analyzers["fold_pl"] = {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["lowercase", "polish_stem", "asciifolding"],
        }
    return {
        "analyzer": analyzers,
        "normalizer": {"fold": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
    }


def mappings(kind: str, stempel: bool) -> dict[str, Any]:
    all_field: dict[str, Any] = dict(_TEXT)
    if stempel:
        all_field["fields"] = {"pl": {"type": "text", "analyzer": "fold_pl"}}
    props: dict[str, Any]
    if kind == "messages":
        props = {
            **_THREAD_FIELDS,
            "message_id": {"type": "keyword"},
            "mailbox_id": {"type": "keyword"},
            "mailbox_address": {"type": "keyword"},
            "mailbox_kw": _KW,
            **ADDED_FIELDS["messages"],
            "inbound": {"type": "boolean"},
            "rfc822_id": {"type": "keyword"},
            "subject": _TEXT,
            "subject_raw": {"type": "keyword", "index": False},
            "text": _TEXT,
            "all": all_field,
            "from_email": {"type": "keyword"},
            "from_name": {"type": "keyword"},
            "from_kw": _KW,
            "to_kw": _KW,
            "cc_kw": _KW,
            "files_kw": _KW,
            "has_attachment": {"type": "boolean"},
            "date": {"type": "date"},
            "seq": {"type": "long"},
            "arrived_at": {"type": "date"},
            "mail": {"type": "binary"},
        }
    elif kind == "threads":
        props = {
            **_THREAD_FIELDS,
            "subject": {"type": "keyword"},
            "system": {"type": "boolean"},
            "system_reason": {"type": "keyword"},
            "system_kind": {"type": "keyword"},
            "customer_email": {"type": "keyword"},
            "customer_name": {"type": "keyword"},
            "mailbox_id": {"type": "keyword"},
            "message_count": {"type": "integer"},
            "merged_into": {"type": "keyword"},
            "priority": {"type": "keyword"},
            "due_at": {"type": "date"},
            "reads": {"type": "object", "enabled": False},  # user id -> {"at": iso, "unread": bool}
        }
    elif kind == "timeline":
        props = {
            "tenant_id": {"type": "keyword"},
            "thread_id": {"type": "keyword"},
            "item_id": {"type": "keyword"},
            "kind": {"type": "keyword"},
            "at": {"type": "date"},
            "seq": {"type": "long"},
            "actor": {"type": "keyword"},
            "body": _TEXT,
            "detail": {"type": "object", "enabled": False},
        }
    elif kind == "users":
        props = {
            "tenant_id": {"type": "keyword"},
            "user_id": {"type": "keyword"},
            "name": {"type": "keyword"},
            "email": {"type": "keyword"},
            "name_kw": _KW,
            "email_kw": _KW,
        }
    else:  # tracking
        props = {"position": {"type": "long"}}
    return {"dynamic": "false", "properties": props}


def template(prefix: str, kind: str, stempel: bool) -> dict[str, Any]:
    return {
        "index_patterns": [f"{prefix}-{kind}-g*"],
        "template": {
            "settings": {"analysis": analysis(stempel), "number_of_shards": 1},
            "mappings": mappings(kind, stempel),
        },
    }
