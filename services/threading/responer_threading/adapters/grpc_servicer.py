"""gRPC ThreadingService: agents' commands on conversations and the thread's own state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import grpc
from eventsourcing.application import AggregateNotFoundError
from google.protobuf.timestamp_pb2 import Timestamp
from responer.threading.v1 import threading_pb2, threading_pb2_grpc

from responer_threading.application import CommandError, NotFound, ThreadingApplication
from responer_threading.domain import ids
from responer_threading.domain.aggregates import Thread

T = TypeVar("T")


def _ts(text: str) -> Timestamp | None:
    if not text:
        return None
    ts = Timestamp()
    ts.FromDatetime(datetime.fromisoformat(text))
    return ts


def thread_state(thread: Thread, merged_into: Thread | None = None) -> threading_pb2.ThreadState:
    thread._state()
    return threading_pb2.ThreadState(
        tenant_id=thread.tenant_id,
        thread_id=str(thread.id),
        number=thread.number,
        subject=thread.subject,
        mailbox_id=thread.mailbox_id,
        mailbox_ids=thread.mailbox_ids,
        status=thread.status,
        merged_into_thread_id=str(merged_into.id) if merged_into else "",
        merged_into_number=merged_into.number if merged_into else 0,
        messages=[
            threading_pb2.ThreadMessage(
                message_id=key,
                rfc_message_id=m.get("message_id", ""),
                direction=m.get("direction", ""),
                from_email=m.get("from_email", ""),
                subject=m.get("subject", ""),
                signal=m.get("signal", ""),
                signal_detail=m.get("detail", ""),
                sent_at=_ts(m.get("sent_at", "")),
            )
            for key, m in thread.members.items()
        ],
        notes=[
            threading_pb2.Note(
                note_id=key,
                thread_id=str(thread.id),
                author_user_id=n["author_user_id"],
                body=n["body"],
                mentions=n["mentions"],
                created_at=_ts(n["created_at"]),
                edited_at=_ts(n.get("edited_at", "")),
                deleted=n.get("deleted", False),
            )
            for key, n in thread.notes.items()
        ],
        status_history=[
            threading_pb2.StatusChange(
                status=h["status"],
                previous=h["previous"],
                by_user_id=h["by_user_id"],
                reason=h["reason"],
                at=_ts(h["at"]),
            )
            for h in thread.status_history
        ],
        history=[
            threading_pb2.HistoryEntry(
                kind=h["kind"],
                detail=h.get("detail", ""),
                ref_id=h.get("ref_id", ""),
                other_thread_id=h.get("other_thread_id", ""),
                other_number=h.get("other_number", 0),
                by_user_id=h.get("by_user_id", ""),
                at=_ts(h.get("at", "")),
            )
            for h in thread.history
        ],
        merge_suggestions=[
            threading_pb2.MergeSuggestion(
                suggestion_id=key,
                thread_id=str(thread.id),
                thread_number=thread.number,
                target_thread_id=s["target_thread_id"],
                target_number=s["target_number"],
                reason=s["reason"],
                state=s["state"],
            )
            for key, s in thread.suggestions.items()
        ],
        participants=list(thread.participants),
        first_signal=thread.signal,
    )


class ThreadingServicer(threading_pb2_grpc.ThreadingServiceServicer):
    def __init__(self, app: ThreadingApplication, on_change: Callable[[], None]) -> None:
        self.app = app
        self.on_change = on_change

    async def _call(
        self, context: grpc.aio.ServicerContext, fn: Callable[..., T], *args: Any, **kw: Any
    ) -> T:
        try:
            result = await asyncio.to_thread(fn, *args, **kw)
        except NotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            raise AssertionError("abort() raises") from exc
        except (CommandError, ValueError) as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise AssertionError("abort() raises") from exc
        self.on_change()
        return result

    def _state(self, tenant_id: str, thread_id: UUID) -> threading_pb2.ThreadState:
        thread = self.app.find_thread(tenant_id, thread_id)
        merged_into = self.app.surviving(tenant_id, thread_id) if thread.merged_into else None
        return thread_state(thread, merged_into)

    @staticmethod
    async def _uuid(context: grpc.aio.ServicerContext, value: str, name: str) -> UUID:
        try:
            return UUID(value)
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name} must be a UUID")
            raise AssertionError("abort() raises") from None

    async def GetThreadState(self, request, context):  # noqa: N802, ANN001, ANN201 - gRPC method
        tid = await self._uuid(context, request.thread_id, "thread_id")
        return await self._call(context, self._state, request.tenant_id, tid)

    async def ResolveNumber(self, request, context):  # noqa: N802, ANN001, ANN201
        def resolve() -> threading_pb2.ThreadState:
            tid = ids.thread_id(request.tenant_id, request.number)
            try:
                thread = self.app.surviving(request.tenant_id, tid)
            except AggregateNotFoundError:
                raise NotFound(f"no thread #{request.number}") from None
            return thread_state(thread)

        return await self._call(context, resolve)

    async def MergeThreads(self, request, context):  # noqa: N802, ANN001, ANN201
        src = await self._uuid(context, request.source_thread_id, "source_thread_id")
        dst = await self._uuid(context, request.target_thread_id, "target_thread_id")

        def merge() -> threading_pb2.MergeResult:
            merge_id = self.app.merge_threads(
                request.tenant_id, src, dst, by_user_id=request.by_user_id, merge_id=request.merge_id
            )
            return threading_pb2.MergeResult(
                merge_id=merge_id,
                source=self._state(request.tenant_id, src),
                target=self._state(request.tenant_id, dst),
            )

        return await self._call(context, merge)

    async def UndoMerge(self, request, context):  # noqa: N802, ANN001, ANN201
        def undo() -> threading_pb2.MergeResult:
            src, dst = self.app.undo_merge(request.tenant_id, request.merge_id, by_user_id=request.by_user_id)
            return threading_pb2.MergeResult(
                merge_id=request.merge_id,
                source=self._state(request.tenant_id, src),
                target=self._state(request.tenant_id, dst),
            )

        return await self._call(context, undo)

    async def SplitThread(self, request, context):  # noqa: N802, ANN001, ANN201
        tid = await self._uuid(context, request.thread_id, "thread_id")

        def split() -> threading_pb2.SplitResult:
            split_id, new = self.app.split_thread(
                request.tenant_id,
                tid,
                request.message_id,
                with_following=request.with_following,
                by_user_id=request.by_user_id,
                split_id=request.split_id,
            )
            return threading_pb2.SplitResult(
                split_id=split_id,
                source=self._state(request.tenant_id, self.app.surviving(request.tenant_id, tid).id),
                new_thread=self._state(request.tenant_id, new),
            )

        return await self._call(context, split)

    async def UndoSplit(self, request, context):  # noqa: N802, ANN001, ANN201
        def undo() -> threading_pb2.SplitResult:
            src, new = self.app.undo_split(request.tenant_id, request.split_id, by_user_id=request.by_user_id)
            return threading_pb2.SplitResult(
                split_id=request.split_id,
                source=self._state(request.tenant_id, src),
                new_thread=self._state(request.tenant_id, new),
            )

        return await self._call(context, undo)

    async def AcceptMergeSuggestion(self, request, context):  # noqa: N802, ANN001, ANN201
        tid = await self._uuid(context, request.thread_id, "thread_id")

        def accept() -> threading_pb2.MergeResult:
            merge_id = self.app.accept_merge_suggestion(
                request.tenant_id, tid, request.suggestion_id, by_user_id=request.by_user_id
            )
            target = self.app.surviving(request.tenant_id, tid)
            return threading_pb2.MergeResult(
                merge_id=merge_id,
                source=self._state(request.tenant_id, tid),
                target=self._state(request.tenant_id, target.id),
            )

        return await self._call(context, accept)

    async def DismissMergeSuggestion(self, request, context):  # noqa: N802, ANN001, ANN201
        tid = await self._uuid(context, request.thread_id, "thread_id")

        def dismiss() -> threading_pb2.ThreadState:
            self.app.dismiss_merge_suggestion(
                request.tenant_id, tid, request.suggestion_id, by_user_id=request.by_user_id
            )
            return self._state(request.tenant_id, tid)

        return await self._call(context, dismiss)

    async def SetStatus(self, request, context):  # noqa: N802, ANN001, ANN201
        tid = await self._uuid(context, request.thread_id, "thread_id")

        def set_status() -> threading_pb2.ThreadState:
            self.app.set_status(request.tenant_id, tid, request.status, by_user_id=request.by_user_id)
            return self._state(request.tenant_id, self.app.surviving(request.tenant_id, tid).id)

        return await self._call(context, set_status)

    def _note(self, tenant_id: str, thread_id: UUID, note_id: str) -> threading_pb2.Note:
        state = self._state(tenant_id, thread_id)
        return next(n for n in state.notes if n.note_id == note_id)

    async def AddNote(self, request, context):  # noqa: N802, ANN001, ANN201
        tid = await self._uuid(context, request.thread_id, "thread_id")
        note_id = request.note_id or str(uuid.uuid4())
        await self._uuid(context, note_id, "note_id")

        def add() -> threading_pb2.Note:
            on = self.app.add_note(
                request.tenant_id,
                tid,
                note_id,
                author_user_id=request.author_user_id,
                body=request.body,
                mentions=list(request.mentions),
            )
            return self._note(request.tenant_id, on, note_id)

        return await self._call(context, add)

    async def EditNote(self, request, context):  # noqa: N802, ANN001, ANN201
        tid = await self._uuid(context, request.thread_id, "thread_id")

        def edit() -> threading_pb2.Note:
            on = self.app.edit_note(
                request.tenant_id,
                tid,
                request.note_id,
                body=request.body,
                mentions=list(request.mentions),
                by_user_id=request.by_user_id,
            )
            return self._note(request.tenant_id, on, request.note_id)

        return await self._call(context, edit)

    async def DeleteNote(self, request, context):  # noqa: N802, ANN001, ANN201
        tid = await self._uuid(context, request.thread_id, "thread_id")

        def delete() -> threading_pb2.Note:
            on = self.app.delete_note(request.tenant_id, tid, request.note_id, by_user_id=request.by_user_id)
            return self._note(request.tenant_id, on, request.note_id)

        return await self._call(context, delete)

    async def GetMailboxPolicy(self, request, context):  # noqa: N802, ANN001, ANN201
        def get() -> threading_pb2.MailboxPolicy:
            return _policy_view(
                request.tenant_id,
                request.mailbox_id,
                self.app.get_policy(request.tenant_id, request.mailbox_id),
            )

        return await self._call(context, get)

    async def SetMailboxPolicy(self, request, context):  # noqa: N802, ANN001, ANN201
        def set_policy() -> threading_pb2.MailboxPolicy:
            policy = self.app.set_policy(
                request.tenant_id,
                request.mailbox_id,
                window_days=request.subject_window_days,
                reply_to_closed=request.reply_to_closed or "reopen",
                own_domains=list(request.own_domains),
                resend_days=request.resend_window_days,
                follow_up_days=request.follow_up_days,
                topic_shift=not request.no_topic_shift,
            )
            return _policy_view(request.tenant_id, request.mailbox_id, policy)

        return await self._call(context, set_policy)


def _policy_view(tenant_id: str, mailbox_id: str, policy: Any) -> threading_pb2.MailboxPolicy:
    return threading_pb2.MailboxPolicy(
        tenant_id=tenant_id,
        mailbox_id=mailbox_id,
        subject_window_days=policy.subject_window.days,
        reply_to_closed=policy.reply_to_closed,
        own_domains=sorted(policy.own_domains),
        resend_window_days=policy.resend_window.days,
        follow_up_days=policy.follow_up_window.days,
        no_topic_shift=not policy.topic_shift,
    )
