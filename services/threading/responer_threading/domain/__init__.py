"""Threading's pure domain: deciding which conversation a message belongs to."""

from responer_threading.domain.decision import Decision, decide
from responer_threading.domain.facts import MailFacts, ThreadingResult, is_automatic
from responer_threading.domain.memory import InMemoryThreadStore
from responer_threading.domain.ports import MessageRef, SubjectKey, ThreadIndex, ThreadInfo, ThreadStore
from responer_threading.domain.service import thread_message

__all__ = [
    "Decision",
    "InMemoryThreadStore",
    "MailFacts",
    "MessageRef",
    "SubjectKey",
    "ThreadIndex",
    "ThreadInfo",
    "ThreadStore",
    "ThreadingResult",
    "decide",
    "is_automatic",
    "thread_message",
]
