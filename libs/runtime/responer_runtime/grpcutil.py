"""gRPC helpers: run synchronous application code from async servicers, and client channels."""

from __future__ import annotations

import grpc


def channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        address,
        options=[("grpc.max_receive_message_length", 64 * 1024 * 1024), ("grpc.enable_retries", 1)],
    )


async def abort_invalid(context: grpc.aio.ServicerContext, message: str) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)


async def abort_not_found(context: grpc.aio.ServicerContext, message: str) -> None:
    await context.abort(grpc.StatusCode.NOT_FOUND, message)
