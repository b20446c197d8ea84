"""gRPC OutboxService: QueueReply and GetReply over the application."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from responer.outbox.v1 import outbox_pb2, outbox_pb2_grpc

from responer_outbox.application import OutboxApplication, UnknownMailbox
from responer_outbox.domain.commands import QueueReply
from responer_outbox.domain.message import InvalidReply
from responer_outbox.domain.reply import Reply


def reply_view(reply: Reply) -> outbox_pb2.ReplyView:
    view = outbox_pb2.ReplyView(
        reply_id=reply.client_reply_id,
        tenant_id=reply.tenant_id,
        thread_id=reply.thread_id,
        status=reply.status,
        message_id=reply.message_id,
        error=reply.last_error,
        attempts=reply.attempts,
    )
    if reply.sent_at is not None:
        ts = Timestamp()
        ts.FromDatetime(reply.sent_at)
        view.sent_at.CopyFrom(ts)
    return view


class OutboxServicer(outbox_pb2_grpc.OutboxServiceServicer):
    def __init__(self, app: OutboxApplication, on_queued: Callable[[], None]) -> None:
        self.app = app
        self.on_queued = on_queued

    async def QueueReply(  # noqa: N802 - gRPC method name
        self, request: outbox_pb2.QueueReplyRequest, context: grpc.aio.ServicerContext
    ) -> outbox_pb2.ReplyView:
        cmd = QueueReply(
            tenant_id=request.tenant_id,
            reply_id=request.reply_id,
            thread_id=request.thread_id,
            thread_number=request.thread_number,
            mailbox_id=request.mailbox_id,
            to=list(request.to),
            cc=list(request.cc),
            subject=request.subject,
            body_text=request.body_text,
            in_reply_to=request.in_reply_to,
            references=list(request.references),
            author_user_id=request.author_user_id,
        )
        try:
            reply = await asyncio.to_thread(self.app.queue_reply, cmd)
        except InvalidReply as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except UnknownMailbox as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        self.on_queued()
        return reply_view(reply)

    async def GetReply(  # noqa: N802 - gRPC method name
        self, request: outbox_pb2.GetReplyRequest, context: grpc.aio.ServicerContext
    ) -> outbox_pb2.ReplyView:
        if not request.tenant_id or not request.reply_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "tenant_id and reply_id are required")
        reply = await asyncio.to_thread(self.app.get_reply, request.tenant_id, request.reply_id)
        if reply is None:  # another tenant's reply is indistinguishable from a missing one
            await context.abort(grpc.StatusCode.NOT_FOUND, f"reply {request.reply_id} not found")
            raise AssertionError("abort() raises")
        return reply_view(reply)
