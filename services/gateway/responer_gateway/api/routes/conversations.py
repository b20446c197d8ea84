"""Conversation commands owned by threading: merge, split and their undo, status, notes, merge
suggestions, and a mailbox's threading policy. The thread view (messages, notes in the timeline)
comes from search (GET /api/threads/{id}); GET /api/threads/{id}/state is threading's own record."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, Field, field_validator, model_validator
from responer.threading.v1 import threading_pb2

from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser, ThreadingClient
from responer_gateway.domain.accounts import User

router = APIRouter(prefix="/api", tags=["conversations"])

ThreadId = Annotated[str, Path(min_length=1, max_length=100, description="the thread's id")]
# "@anna@example.com" mentions a user by e-mail address.
_MENTION = re.compile(r"(?<![\w.])@([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


class MergeCreate(BaseModel):
    into_thread_id: str | None = Field(default=None, max_length=100, description="the thread that stays")
    into_number: int | None = Field(default=None, ge=1, description="or the number of the thread that stays")
    merge_id: uuid.UUID | None = Field(
        default=None, description="idempotency key; also names the merge for undo"
    )

    @model_validator(mode="after")
    def one_target(self) -> MergeCreate:
        if (self.into_thread_id is None) == (self.into_number is None):
            raise ValueError("give exactly one of into_thread_id and into_number")
        return self


class SplitCreate(BaseModel):
    message_id: str = Field(min_length=1, max_length=100, description="Responer's id of the message to move")
    with_following: bool = Field(default=False, description="move the messages after it too")
    split_id: uuid.UUID | None = None


class StatusUpdate(BaseModel):
    status: Literal["open", "pending", "closed"]


class NoteCreate(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)
    note_id: uuid.UUID | None = Field(default=None, description="idempotency key")
    mentions: list[str] = Field(default_factory=list, max_length=50, description="user ids, besides @e-mail")

    @field_validator("body")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a note needs some text")
        return value


class NoteUpdate(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)
    mentions: list[str] = Field(default_factory=list, max_length=50)


class PolicyUpdate(BaseModel):
    subject_window_days: int = Field(default=0, ge=0, le=365, description="0: the default, 14 days")
    reply_to_closed: Literal["reopen", "new_thread"] = "reopen"
    own_domains: list[str] = Field(default_factory=list, max_length=50)
    resend_window_days: int = Field(default=0, ge=0, le=365, description="0: the default, 5 days")
    follow_up_days: int = Field(default=0, ge=0, le=365, description="0: the default, 14 days")
    no_topic_shift: bool = Field(
        default=False, description="true: never split off a reply that names only another matter"
    )


def _dict(message: object) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)  # type: ignore[arg-type]


async def _mentions(ctx: Context, tenant_id: str, body: str, explicit: list[str]) -> list[str]:
    """User ids mentioned: explicit ids plus @e-mail, of users of this tenant only (others are ignored)."""
    candidates: list[uuid.UUID] = []
    for user_id in explicit:
        try:
            candidates.append(uuid.UUID(user_id))
        except ValueError:
            continue
    candidates += [User.id_for(email) for email in dict.fromkeys(m.lower() for m in _MENTION.findall(body))]
    found = []
    for user_id in dict.fromkeys(candidates):
        user = await asyncio.to_thread(ctx.app.get_user, user_id)
        if user is not None and str(user.tenant_id) == tenant_id:
            found.append(str(user.id))
    return found


@router.get("/threads/{thread_id}/state")
async def read_thread_state(
    thread_id: ThreadId, user: CurrentUser, threading: ThreadingClient, ctx: Context
) -> dict:
    """Threading's record of a thread: status and its history, notes, merges and splits, merge
    suggestions, and which signal put each message in it."""
    state = await threading.GetThreadState(
        threading_pb2.GetThreadStateRequest(tenant_id=user.tenant_id, thread_id=thread_id),
        timeout=ctx.timeout,
    )
    return _dict(state)


@router.post("/threads/{thread_id}/merge")
async def merge_thread(
    thread_id: ThreadId, body: MergeCreate, user: CurrentUser, threading: ThreadingClient, ctx: Context
) -> dict:
    """Merge this thread into another: its messages and notes move there, later mail follows."""
    target = body.into_thread_id
    if target is None:
        resolved = await threading.ResolveNumber(
            threading_pb2.ResolveNumberRequest(tenant_id=user.tenant_id, number=body.into_number or 0),
            timeout=ctx.timeout,
        )
        target = resolved.thread_id
    result = await threading.MergeThreads(
        threading_pb2.MergeThreadsRequest(
            tenant_id=user.tenant_id,
            source_thread_id=thread_id,
            target_thread_id=target,
            by_user_id=user.user_id,
            merge_id=str(body.merge_id or uuid.uuid4()),
        ),
        timeout=ctx.timeout,
    )
    return _dict(result)


@router.post("/merges/{merge_id}/undo")
async def undo_merge(
    merge_id: Annotated[str, Path(min_length=1, max_length=100)],
    user: CurrentUser,
    threading: ThreadingClient,
    ctx: Context,
) -> dict:
    """Undo a merge: the merged thread lives again with the messages and notes it had."""
    result = await threading.UndoMerge(
        threading_pb2.UndoMergeRequest(tenant_id=user.tenant_id, merge_id=merge_id, by_user_id=user.user_id),
        timeout=ctx.timeout,
    )
    return _dict(result)


@router.post("/threads/{thread_id}/split")
async def split_thread(
    thread_id: ThreadId, body: SplitCreate, user: CurrentUser, threading: ThreadingClient, ctx: Context
) -> dict:
    """Move one message (and optionally those after it) into a new thread."""
    result = await threading.SplitThread(
        threading_pb2.SplitThreadRequest(
            tenant_id=user.tenant_id,
            thread_id=thread_id,
            message_id=body.message_id,
            with_following=body.with_following,
            by_user_id=user.user_id,
            split_id=str(body.split_id or uuid.uuid4()),
        ),
        timeout=ctx.timeout,
    )
    return _dict(result)


@router.post("/splits/{split_id}/undo")
async def undo_split(
    split_id: Annotated[str, Path(min_length=1, max_length=100)],
    user: CurrentUser,
    threading: ThreadingClient,
    ctx: Context,
) -> dict:
    """Undo a split: the messages go back to the thread they came from."""
    result = await threading.UndoSplit(
        threading_pb2.UndoSplitRequest(tenant_id=user.tenant_id, split_id=split_id, by_user_id=user.user_id),
        timeout=ctx.timeout,
    )
    return _dict(result)


@router.put("/threads/{thread_id}/status")
async def set_status(
    thread_id: ThreadId, body: StatusUpdate, user: CurrentUser, threading: ThreadingClient, ctx: Context
) -> dict:
    """Set open, pending (waiting for the customer) or closed; a new customer message reopens."""
    state = await threading.SetStatus(
        threading_pb2.SetStatusRequest(
            tenant_id=user.tenant_id, thread_id=thread_id, status=body.status, by_user_id=user.user_id
        ),
        timeout=ctx.timeout,
    )
    return _dict(state)


@router.post("/threads/{thread_id}/notes", status_code=201)
async def add_note(
    thread_id: ThreadId, body: NoteCreate, user: CurrentUser, threading: ThreadingClient, ctx: Context
) -> dict:
    """An internal note on the thread (never sent to the customer); @anna@example.com mentions a user."""
    note = await threading.AddNote(
        threading_pb2.AddNoteRequest(
            tenant_id=user.tenant_id,
            thread_id=thread_id,
            note_id=str(body.note_id or uuid.uuid4()),
            author_user_id=user.user_id,
            body=body.body,
            mentions=await _mentions(ctx, user.tenant_id, body.body, body.mentions),
        ),
        timeout=ctx.timeout,
    )
    return _dict(note)


@router.patch("/threads/{thread_id}/notes/{note_id}")
async def edit_note(
    thread_id: ThreadId,
    note_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: NoteUpdate,
    user: CurrentUser,
    threading: ThreadingClient,
    ctx: Context,
) -> dict:
    """Change a note's text."""
    note = await threading.EditNote(
        threading_pb2.EditNoteRequest(
            tenant_id=user.tenant_id,
            thread_id=thread_id,
            note_id=note_id,
            body=body.body,
            mentions=await _mentions(ctx, user.tenant_id, body.body, body.mentions),
            by_user_id=user.user_id,
        ),
        timeout=ctx.timeout,
    )
    return _dict(note)


@router.delete("/threads/{thread_id}/notes/{note_id}")
async def delete_note(
    thread_id: ThreadId,
    note_id: Annotated[str, Path(min_length=1, max_length=100)],
    user: CurrentUser,
    threading: ThreadingClient,
    ctx: Context,
) -> dict:
    """Delete a note (the timeline keeps that it existed)."""
    note = await threading.DeleteNote(
        threading_pb2.DeleteNoteRequest(
            tenant_id=user.tenant_id, thread_id=thread_id, note_id=note_id, by_user_id=user.user_id
        ),
        timeout=ctx.timeout,
    )
    return _dict(note)


@router.post("/threads/{thread_id}/merge-suggestions/{suggestion_id}/accept")
async def accept_merge_suggestion(
    thread_id: ThreadId,
    suggestion_id: Annotated[str, Path(min_length=1, max_length=100)],
    user: CurrentUser,
    threading: ThreadingClient,
    ctx: Context,
) -> dict:
    """Accept threading's suggestion: this thread merges into the suggested one (undoable)."""
    result = await threading.AcceptMergeSuggestion(
        threading_pb2.MergeSuggestionRequest(
            tenant_id=user.tenant_id,
            thread_id=thread_id,
            suggestion_id=suggestion_id,
            by_user_id=user.user_id,
        ),
        timeout=ctx.timeout,
    )
    return _dict(result)


@router.post("/threads/{thread_id}/merge-suggestions/{suggestion_id}/dismiss")
async def dismiss_merge_suggestion(
    thread_id: ThreadId,
    suggestion_id: Annotated[str, Path(min_length=1, max_length=100)],
    user: CurrentUser,
    threading: ThreadingClient,
    ctx: Context,
) -> dict:
    """Dismiss a merge suggestion; the threads stay apart."""
    state = await threading.DismissMergeSuggestion(
        threading_pb2.MergeSuggestionRequest(
            tenant_id=user.tenant_id,
            thread_id=thread_id,
            suggestion_id=suggestion_id,
            by_user_id=user.user_id,
        ),
        timeout=ctx.timeout,
    )
    return _dict(state)


@router.get("/mailboxes/{mailbox_id}/threading-policy")
async def read_threading_policy(
    mailbox_id: Annotated[str, Path(min_length=1, max_length=100)],
    user: CurrentUser,
    threading: ThreadingClient,
    ctx: Context,
) -> dict:
    """The mailbox's threading policy: subject-fallback window and what a reply to a closed thread does."""
    policy = await threading.GetMailboxPolicy(
        threading_pb2.GetMailboxPolicyRequest(tenant_id=user.tenant_id, mailbox_id=mailbox_id),
        timeout=ctx.timeout,
    )
    return _dict(policy)


@router.put("/mailboxes/{mailbox_id}/threading-policy")
async def set_threading_policy(
    mailbox_id: Annotated[str, Path(min_length=1, max_length=100)],
    body: PolicyUpdate,
    admin: CurrentAdmin,
    threading: ThreadingClient,
    ctx: Context,
) -> dict:
    """Set the mailbox's threading policy (admins)."""
    policy = await threading.SetMailboxPolicy(
        threading_pb2.MailboxPolicy(
            tenant_id=admin.tenant_id,
            mailbox_id=mailbox_id,
            subject_window_days=body.subject_window_days,
            reply_to_closed=body.reply_to_closed,
            own_domains=body.own_domains,
            resend_window_days=body.resend_window_days,
            follow_up_days=body.follow_up_days,
            no_topic_shift=body.no_topic_shift,
        ),
        timeout=ctx.timeout,
    )
    return _dict(policy)
