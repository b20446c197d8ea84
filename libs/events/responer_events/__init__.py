"""The public event contract of Responer: generated protobuf messages plus the envelope codec.

A subscriber needs nothing else besides nats-py; see docs/events.md.
"""

from responer_events.codec import (
    EVENT_SUBJECTS,
    STREAMS,
    DecodedEvent,
    decode,
    encode,
    stream_name,
    subject_for,
)

__all__ = ["EVENT_SUBJECTS", "STREAMS", "DecodedEvent", "decode", "encode", "stream_name", "subject_for"]
