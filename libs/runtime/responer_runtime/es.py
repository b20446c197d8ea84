"""The eventsourcing base every service's Application subclasses.

Adds what all our applications need: a process recorder (so effects and the tracking record of the
consumed event are written in one transaction), bytes in events, and `record()` for tracked saves.
"""

from __future__ import annotations

import base64
from typing import Any

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import ProcessRecorder, Tracking, Transcoder, Transcoding


class BytesAsBase64(Transcoding):
    type = bytes
    name = "bytes_b64"

    def encode(self, obj: bytes) -> str:
        return base64.b64encode(obj).decode("ascii")

    def decode(self, data: str) -> bytes:
        return base64.b64decode(data)


class ResponerApplication(Application):
    """An eventsourcing Application that can also consume events exactly once.

    `record(*aggregates, tracking=Tracking(upstream, position))` stores the aggregates' new events
    and the tracking row atomically; the same tracking position twice raises IntegrityError and
    writes nothing. Use `already_processed()` to skip a redelivery before doing the work.
    """

    recorder: ProcessRecorder

    def construct_recorder(self) -> ProcessRecorder:  # type: ignore[override]
        return self.factory.process_recorder()

    def register_transcodings(self, transcoder: Transcoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(BytesAsBase64())

    def record(self, *objs: Any, tracking: Tracking | None = None) -> None:
        processing_event: ProcessingEvent = ProcessingEvent(tracking=tracking)
        processing_event.collect_events(*objs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)

    def already_processed(self, tracking: Tracking) -> bool:
        return self.recorder.has_tracking_id(tracking.application_name, tracking.notification_id)
