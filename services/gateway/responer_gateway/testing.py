"""In-process stand-ins for the search, ingest and outbox gRPC services, for the gateway's own tests.

Real grpc.aio servers implementing the generated servicer base classes, with just enough behaviour
to exercise the gateway's contract: data is kept per tenant (another tenant gets NOT_FOUND), every
request is recorded, and the health service answers SERVING. The end-to-end proof that the real
services fit together lives in tests/e2e and runs against the real stack.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from responer.events.v1 import mail_pb2
from responer.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from responer.outbox.v1 import outbox_pb2, outbox_pb2_grpc
from responer.search.v1 import search_pb2, search_pb2_grpc


def ts(dt: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(dt)
    return t


@dataclass
class FakeData:
    """What the fakes answer, per tenant id."""

    threads: dict[str, list[search_pb2.ThreadDetail]] = field(default_factory=dict)
    folders: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    mailboxes: dict[str, list[ingest_pb2.MailboxView]] = field(default_factory=dict)
    replies: dict[str, outbox_pb2.ReplyView] = field(default_factory=dict)
    requests: list[Message] = field(default_factory=list)
    # Replies move from "queued" to "sent" when first read back, like a fast SMTP relay.
    send_on_read: bool = True

    def requests_of(self, kind: type[Message]) -> list:
        return [r for r in self.requests if isinstance(r, kind)]


class FakeSearch(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, data: FakeData) -> None:
        self.data = data

    async def ListThreads(self, request, context):  # noqa: ANN001, ANN201, N802
        self.data.requests.append(request)
        threads = [
            d.thread
            for d in self.data.threads.get(request.tenant_id, [])
            if d.thread.folder == request.folder
        ]
        threads.sort(key=lambda t: t.last_message_at.ToDatetime(), reverse=True)
        start = int(request.cursor or 0)
        limit = request.limit or 50
        page = threads[start : start + limit]
        more = start + limit < len(threads)
        return search_pb2.ThreadPage(
            threads=page, next_cursor=str(start + limit) if more else "", total=len(threads)
        )

    async def GetThread(self, request, context):  # noqa: ANN001, ANN201, N802
        self.data.requests.append(request)
        for detail in self.data.threads.get(request.tenant_id, []):
            if (request.thread_id and detail.thread.thread_id == request.thread_id) or (
                request.number and detail.thread.number == request.number
            ):
                return detail
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such thread")

    async def Search(self, request, context):  # noqa: ANN001, ANN201, N802
        self.data.requests.append(request)
        if request.query.startswith("bad:"):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"unknown search field in {request.query!r}"
            )
        words = request.query.lower().split()
        hits = []
        for detail in self.data.threads.get(request.tenant_id, []):
            haystack = " ".join([detail.thread.subject] + [m.mail.text for m in detail.messages]).lower()
            if all(w in haystack for w in words):
                hit = search_pb2.ThreadSummary()
                hit.CopyFrom(detail.thread)
                hit.snippet = f"…<mark>{words[0]}</mark>…" if words else ""
                hits.append(hit)
        return search_pb2.ThreadPage(threads=hits, total=len(hits))

    async def FolderCounts(self, request, context):  # noqa: ANN001, ANN201, N802
        self.data.requests.append(request)
        counts = self.data.folders.get(request.tenant_id)
        if counts is None:
            per: dict[str, int] = {}
            for d in self.data.threads.get(request.tenant_id, []):
                per[d.thread.folder] = per.get(d.thread.folder, 0) + 1
            counts = list(per.items())
        return search_pb2.FolderCountsResponse(
            folders=[search_pb2.FolderCount(folder=f, threads=n) for f, n in counts]
        )


class FakeIngest(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, data: FakeData) -> None:
        self.data = data

    async def RegisterMailbox(self, request, context):  # noqa: ANN001, ANN201, N802
        self.data.requests.append(request)
        if request.address.startswith("unreachable@"):
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "cannot log in to the IMAP server")
        view = ingest_pb2.MailboxView(
            mailbox_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request.tenant_id}/{request.address}")),
            tenant_id=request.tenant_id,
            name=request.name,
            address=request.address,
            imap_host=request.imap_host,
            imap_port=request.imap_port,
            tls_mode=request.tls_mode,
            username=request.username,
            folders=list(request.folders) or ["INBOX"],
            smtp_host=request.smtp_host,
            smtp_port=request.smtp_port,
        )
        self.data.mailboxes.setdefault(request.tenant_id, []).append(view)
        return view

    async def ListMailboxes(self, request, context):  # noqa: ANN001, ANN201, N802
        self.data.requests.append(request)
        return ingest_pb2.ListMailboxesResponse(mailboxes=self.data.mailboxes.get(request.tenant_id, []))

    async def GetMailbox(self, request, context):  # noqa: ANN001, ANN201, N802
        self.data.requests.append(request)
        for view in self.data.mailboxes.get(request.tenant_id, []):
            if view.mailbox_id == request.mailbox_id:
                return view
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such mailbox")


class FakeOutbox(outbox_pb2_grpc.OutboxServiceServicer):
    def __init__(self, data: FakeData) -> None:
        self.data = data

    async def QueueReply(self, request, context):  # noqa: ANN001, ANN201, N802
        self.data.requests.append(request)
        key = f"{request.tenant_id}/{request.reply_id}"
        if key not in self.data.replies:
            self.data.replies[key] = outbox_pb2.ReplyView(
                reply_id=request.reply_id,
                tenant_id=request.tenant_id,
                thread_id=request.thread_id,
                status="queued",
                message_id=f"{request.reply_id}@responer.test",
            )
        return self.data.replies[key]

    async def GetReply(self, request, context):  # noqa: ANN001, ANN201, N802
        self.data.requests.append(request)
        view = self.data.replies.get(f"{request.tenant_id}/{request.reply_id}")
        if view is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such reply")
        if self.data.send_on_read and view.status == "queued":
            view.status = "sent"
            view.attempts = 1
            view.sent_at.CopyFrom(ts(datetime.now(UTC)))
        return view


class FakeBackends:
    """One grpc.aio server on 127.0.0.1 serving all three fakes plus health; `addr` for the settings."""

    def __init__(self, data: FakeData | None = None) -> None:
        self.data = data or FakeData()
        self.server: grpc.aio.Server | None = None
        self.port = 0

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> FakeBackends:
        self.server = grpc.aio.server()
        search_pb2_grpc.add_SearchServiceServicer_to_server(FakeSearch(self.data), self.server)
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(FakeIngest(self.data), self.server)
        outbox_pb2_grpc.add_OutboxServiceServicer_to_server(FakeOutbox(self.data), self.server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)


# -- small factories ----------------------------------------------------------------------------------
def address(email: str, name: str = "") -> mail_pb2.Address:
    return mail_pb2.Address(email=email, name=name)


def inbound_mail(
    *,
    message_id: str,
    subject: str,
    sender: mail_pb2.Address,
    to: str = "support@shop.test",
    text: str = "",
    html: str = "",
    references: list[str] | None = None,
    reply_to: list[mail_pb2.Address] | None = None,
    at: datetime,
    attachments: list[mail_pb2.Attachment] | None = None,
) -> mail_pb2.Mail:
    mail = mail_pb2.Mail(
        message_id=message_id,
        subject=subject,
        to=[address(to)],
        reply_to=reply_to or [],
        date=ts(at),
        text=text,
        html=html,
        references=references or [],
        in_reply_to=(references or [])[-1:],
        attachments=attachments or [],
        direction=mail_pb2.DIRECTION_INBOUND,
    )
    getattr(mail, "from").CopyFrom(sender)
    return mail


def outbound_mail(*, message_id: str, subject: str, to: str, text: str, at: datetime) -> mail_pb2.Mail:
    mail = mail_pb2.Mail(
        message_id=message_id,
        subject=subject,
        to=[address(to)],
        date=ts(at),
        text=text,
        direction=mail_pb2.DIRECTION_OUTBOUND,
    )
    getattr(mail, "from").CopyFrom(address("support@shop.test", "Support"))
    return mail


def thread_detail(
    *,
    number: int,
    subject: str,
    customer: mail_pb2.Address,
    mails: list[mail_pb2.Mail],
    folder: str = "Inbox",
    mailbox_id: str = "",
    system_reason: str = "",
    thread_id: str | None = None,
) -> search_pb2.ThreadDetail:
    thread_id = thread_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"thread/{number}"))
    mailbox_id = mailbox_id or str(uuid.uuid5(uuid.NAMESPACE_URL, "mailbox/support"))
    views = [
        search_pb2.MessageView(
            message_id=str(uuid.uuid5(uuid.NAMESPACE_URL, m.message_id)),
            thread_id=thread_id,
            mail=m,
            mailbox_id=mailbox_id,
            mailbox_address="support@shop.test",
            at=m.date,
        )
        for m in mails
    ]
    summary = search_pb2.ThreadSummary(
        thread_id=thread_id,
        number=number,
        subject=subject,
        folder=folder,
        status="open",
        customer_email=customer.email,
        customer_name=customer.name,
        message_count=len(mails),
        last_message_at=mails[-1].date,
        snippet=(mails[-1].text[:120]).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
        mailbox_id=mailbox_id,
        system_reason=system_reason,
    )
    return search_pb2.ThreadDetail(thread=summary, messages=views)


def demo_threads(now: datetime | None = None) -> list[search_pb2.ThreadDetail]:
    """A small, realistic tenant: Polish customer mail, a reply, hostile HTML, a bounce in System."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    anna = address("anna.kowalska@klient.pl", "Anna Kowalska")
    jan = address("jan.nowak@klient.pl", "Jan Nowak")
    daemon = address("mailer-daemon@mx.klient.pl", "Mail Delivery System")
    return [
        thread_detail(
            number=1000,
            subject="Zamówienie 123 — zwrot żółwia",
            customer=anna,
            mails=[
                inbound_mail(
                    message_id="order-123@klient.pl",
                    subject="Zamówienie 123 — zwrot żółwia",
                    sender=anna,
                    text="Dzień dobry, chcę zwrócić żółwia z zamówienia 123. Zażółć gęślą jaźń.",
                    html=(
                        '<p onclick="steal()">Dzień dobry, chcę zwrócić <b>żółwia</b>.</p>'
                        "<script>alert('xss')</script>"
                        '<img src="https://tracker.example/pixel.gif" onerror="alert(1)">'
                    ),
                    at=now - timedelta(hours=3),
                    attachments=[
                        mail_pb2.Attachment(filename="paragon.pdf", content_type="application/pdf", size=2048)
                    ],
                ),
                outbound_mail(
                    message_id="r1@responer.test",
                    subject="Re: Zamówienie 123 — zwrot żółwia",
                    to=anna.email,
                    text="Prosimy o numer konta.",
                    at=now - timedelta(hours=2),
                ),
                inbound_mail(
                    message_id="order-123-2@klient.pl",
                    subject="Re: Zamówienie 123 — zwrot żółwia",
                    sender=anna,
                    reply_to=[address("zwroty@klient.pl", "Zwroty")],
                    references=["order-123@klient.pl", "r1@responer.test"],
                    text="Numer konta: 12 3456. Pozdrawiam, Anna",
                    at=now - timedelta(hours=1),
                ),
            ],
        ),
        thread_detail(
            number=1001,
            subject="Faktura VAT",
            customer=jan,
            mails=[
                inbound_mail(
                    message_id="faktura-1@klient.pl",
                    subject="Faktura VAT",
                    sender=jan,
                    text="Proszę o fakturę VAT na firmę.",
                    at=now - timedelta(minutes=30),
                )
            ],
        ),
        thread_detail(
            number=1002,
            subject="Undelivered Mail Returned to Sender",
            customer=daemon,
            folder="System",
            system_reason="bounce: multipart/report delivery-status 5.1.1",
            mails=[
                inbound_mail(
                    message_id="dsn-1@mx.klient.pl",
                    subject="Undelivered Mail Returned to Sender",
                    sender=daemon,
                    text="Delivery to the following recipient failed permanently.",
                    at=now - timedelta(minutes=10),
                )
            ],
        ),
    ]
