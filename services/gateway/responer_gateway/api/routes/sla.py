"""SLA policies (first and next response deadlines) and the tenant's business hours, holidays and
time zone; owned by routing, which sets the due times on threads."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, field_validator, model_validator
from responer.routing.v1 import routing_pb2 as pb

from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser, RoutingClient
from responer_gateway.api.routes.rules import public

router = APIRouter(prefix="/api/sla", tags=["sla"])

Priority = Literal["low", "normal", "high", "urgent"]
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


class SlaPolicyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    first_response_minutes: int = Field(ge=0, le=60 * 24 * 365, description="0: no first-response deadline")
    next_response_minutes: int = Field(0, ge=0, le=60 * 24 * 365, description="0: no next-response deadline")
    warn_before_minutes: int = Field(0, ge=0, le=60 * 24 * 30)
    business_hours: bool = Field(False, description="count only the tenant's business hours")
    priorities: list[Priority] = Field([], description="which threads; empty lists match all")
    tags: list[str] = []
    mailbox_ids: list[str] = []

    @model_validator(mode="after")
    def _some_deadline(self) -> SlaPolicyIn:
        if not (self.first_response_minutes or self.next_response_minutes):
            raise ValueError("a policy needs first_response_minutes or next_response_minutes above 0")
        return self


class DayIn(BaseModel):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start: str = Field(pattern=HHMM, description="08:00")
    end: str = Field(pattern=HHMM, description="16:00")

    @model_validator(mode="after")
    def _ordered(self) -> DayIn:
        if self.start >= self.end:
            raise ValueError(f"a day's start ({self.start}) must be before its end ({self.end})")
        return self


class BusinessHoursIn(BaseModel):
    time_zone: str = Field("UTC", description="IANA, e.g. Europe/Warsaw")
    days: list[DayIn] = Field(max_length=7)
    holidays: list[dt.date] = Field([], max_length=1000, description="ISO dates, e.g. 2026-12-25")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}; use an IANA name like Europe/Warsaw") from exc
        return v

    @field_validator("days")
    @classmethod
    def _one_span_a_day(cls, v: list[DayIn]) -> list[DayIn]:
        if len({d.weekday for d in v}) != len(v):
            raise ValueError("each weekday may appear once")
        return v


def _policy(tenant_id: str, body: SlaPolicyIn, policy_id: str = "") -> pb.SlaPolicy:
    return pb.SlaPolicy(tenant_id=tenant_id, policy_id=policy_id, **body.model_dump())


@router.get("/policies")
async def list_policies(user: CurrentUser, routing: RoutingClient, ctx: Context) -> list[dict[str, Any]]:
    """The tenant's SLA policies (the most specific matching policy wins on a thread)."""
    reply = await routing.ListSlaPolicies(pb.TenantRef(tenant_id=user.tenant_id), timeout=ctx.timeout)
    return [public(p) for p in reply.policies]


@router.post("/policies", status_code=201)
async def create_policy(body: SlaPolicyIn, admin: CurrentAdmin, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Add an SLA policy; threads that arrive from now on get its due times."""
    return public(await routing.SetSlaPolicy(_policy(admin.tenant_id, body), timeout=ctx.timeout))


@router.put("/policies/{policy_id}")
async def update_policy(policy_id: str, body: SlaPolicyIn, admin: CurrentAdmin, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Replace an SLA policy."""
    known = await routing.ListSlaPolicies(pb.TenantRef(tenant_id=admin.tenant_id), timeout=ctx.timeout)
    if policy_id not in {p.policy_id for p in known.policies}:
        raise HTTPException(404, detail=f"no SLA policy {policy_id} in this tenant")
    return public(await routing.SetSlaPolicy(_policy(admin.tenant_id, body, policy_id), timeout=ctx.timeout))


@router.get("/business-hours")
async def read_business_hours(user: CurrentUser, routing: RoutingClient, ctx: Context) -> dict[str, Any]:
    """Business hours per weekday, holidays and the time zone they are in."""
    return public(await routing.GetBusinessHours(pb.TenantRef(tenant_id=user.tenant_id), timeout=ctx.timeout))


@router.put("/business-hours")
async def set_business_hours(body: BusinessHoursIn, admin: CurrentAdmin, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Replace the business hours (weekdays not listed are closed), holidays and time zone."""
    hours = pb.BusinessHours(
        tenant_id=admin.tenant_id,
        time_zone=body.time_zone,
        days=[pb.DayHours(weekday=d.weekday, start=d.start, end=d.end) for d in body.days],
        holidays=[d.isoformat() for d in body.holidays],
    )
    return public(await routing.SetBusinessHours(hours, timeout=ctx.timeout))
