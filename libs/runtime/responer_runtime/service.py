"""Service lifecycle: ops HTTP endpoints, gRPC server with health, background tasks, graceful stop.

    service = Service("threading", settings)
    service.add_task("relay", relay.run)            # coroutine functions taking the stop event
    service.add_grpc(lambda server: add_XServicer_to_server(servicer, server))
    service.add_readiness("postgres", check)       # sync or async callables returning bool
    service.on_shutdown(bus.close)
    raise SystemExit(service.run())

SIGTERM/SIGINT set the stop event: readiness turns false, gRPC stops with a grace period, tasks
finish their current item and return, then shutdown hooks run (drain NATS). A task that crashes
stops the whole process with exit code 1, so the supervisor restarts it cleanly.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import uvicorn
from fastapi import FastAPI, Response
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from responer_runtime.logs import configure_logging
from responer_runtime.metrics import READY
from responer_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)

Task = Callable[[asyncio.Event], Awaitable[None]]
Check = Callable[[], bool | Awaitable[bool]]


class Service:
    def __init__(self, name: str, settings: RuntimeSettings) -> None:
        self.name = name
        self.settings = settings
        self.stop = asyncio.Event()
        self.ready = False
        self._tasks: list[tuple[str, Task]] = []
        self._grpc: list[Callable[[grpc.aio.Server], None]] = []
        self._checks: list[tuple[str, Check]] = []
        self._shutdown: list[Callable[[], Awaitable[Any]]] = []
        self._startup: list[Callable[[], Awaitable[Any]]] = []
        self.grpc_port: int | None = None
        self.ops_app = self._build_ops_app()
        self.exit_code = 0

    # -- registration -------------------------------------------------------------------------
    def add_task(self, name: str, task: Task) -> None:
        self._tasks.append((name, task))

    def add_grpc(self, register: Callable[[grpc.aio.Server], None]) -> None:
        self._grpc.append(register)

    def add_readiness(self, name: str, check: Check) -> None:
        self._checks.append((name, check))

    def on_startup(self, hook: Callable[[], Awaitable[Any]]) -> None:
        self._startup.append(hook)

    def on_shutdown(self, hook: Callable[[], Awaitable[Any]]) -> None:
        self._shutdown.append(hook)

    # -- ops endpoints ------------------------------------------------------------------------
    def _build_ops_app(self) -> FastAPI:
        app = FastAPI(title=f"responer-{self.name} ops", docs_url=None, redoc_url=None, openapi_url=None)

        @app.get("/metrics")
        def metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        @app.get("/healthz")
        def healthz() -> dict[str, str]:
            return {"status": "alive", "service": self.name}

        @app.get("/readyz")
        async def readyz(response: Response) -> dict[str, Any]:
            results = await self.check_readiness()
            ok = self.ready and all(results.values())
            response.status_code = 200 if ok else 503
            return {"ready": ok, "service": self.name, "checks": results}

        return app

    async def check_readiness(self) -> dict[str, bool]:
        results: dict[str, bool] = {}
        for name, check in self._checks:
            try:
                value = check()
                if inspect.isawaitable(value):
                    value = await asyncio.wait_for(value, 5.0)
                results[name] = bool(value)
            except Exception:  # noqa: BLE001 - a failing check means not ready
                results[name] = False
        return results

    # -- running ------------------------------------------------------------------------------
    def run(self) -> int:
        configure_logging(self.name, self.settings.log_level)
        return asyncio.run(self.serve())

    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)

        ops = uvicorn.Server(
            uvicorn.Config(
                self.ops_app,
                host=self.settings.ops_host,
                port=self.settings.ops_port,
                log_level="warning",
                lifespan="off",
            )
        )
        ops.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        ops_task = asyncio.create_task(ops.serve(), name="ops-http")

        for hook in self._startup:
            await hook()

        server: grpc.aio.Server | None = None
        health_servicer = health.aio.HealthServicer()
        if self._grpc:
            server = grpc.aio.server()
            for register in self._grpc:
                register(server)
            health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
            self.grpc_port = server.add_insecure_port(f"{self.settings.grpc_host}:{self.settings.grpc_port}")
            await server.start()
            await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)

        running = [asyncio.create_task(self._guard(name, task), name=name) for name, task in self._tasks]
        self.ready = True
        READY.labels(self.name).set(1)
        log.info("service started", extra={"grpc_port": self.grpc_port, "ops_port": self.settings.ops_port})

        await self.stop.wait()
        log.info("service stopping")
        self.ready = False
        READY.labels(self.name).set(0)
        if server is not None:
            await health_servicer.enter_graceful_shutdown()
            await server.stop(self.settings.shutdown_grace_s)
        _, pending = (
            await asyncio.wait(running, timeout=self.settings.shutdown_grace_s) if running else ((), ())
        )
        for task in pending:
            task.cancel()
        for hook in self._shutdown:
            try:
                await asyncio.wait_for(hook(), self.settings.shutdown_grace_s)
            except Exception:  # noqa: BLE001 - best effort on the way out
                log.exception("shutdown hook failed")
        ops.should_exit = True
        await ops_task
        log.info("service stopped", extra={"exit_code": self.exit_code})
        return self.exit_code

    async def _guard(self, name: str, task: Task) -> None:
        try:
            await task(self.stop)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task crashed; stopping the service", extra={"task": name})
            self.exit_code = 1
            self.stop.set()
