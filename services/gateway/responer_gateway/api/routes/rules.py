"""A tenant's routing rules: ordered, with conditions and actions; tried against recent threads first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, Field
from responer.routing.v1 import routing_pb2 as pb

from responer_gateway.api.deps import Context, CurrentAdmin, CurrentUser, RoutingClient

router = APIRouter(prefix="/api/rules", tags=["rules"])


class ConditionIn(BaseModel):
    field: str = Field(description="header, from, to, cc, to_cc, mailbox, subject, body, attachment_name, "
                       "attachment_type, contact_attribute, time_of_day, weekday, system, system_kind")  # fmt: skip
    op: str = Field(description="contains, equals, regex, exists, not_contains, not_equals, not_exists")
    value: str = ""
    name: str = Field("", description="the header or contact attribute name")


class ActionIn(BaseModel):
    type: str = Field(description="folder, tag, assign_user, assign_group, status, priority, mark_system, "
                      "mark_not_system, stop")  # fmt: skip
    value: str = ""


class RuleIn(BaseModel):
    name: str
    match: str = "all"
    enabled: bool = True
    position: int = Field(0, description="1-based place in the order; 0 keeps it (new rules go last)")
    conditions: list[ConditionIn]
    actions: list[ActionIn]


class TryIn(RuleIn):
    last: int = Field(50, ge=1, le=500, description="how many recent threads to try the rule on")


def to_pb(tenant_id: str, body: RuleIn, rule_id: str = "") -> pb.Rule:
    return pb.Rule(
        tenant_id=tenant_id,
        rule_id=rule_id,
        name=body.name,
        match=body.match,
        enabled=body.enabled,
        position=body.position,
        conditions=[pb.Condition(**c.model_dump()) for c in body.conditions],
        actions=[pb.Action(**a.model_dump()) for a in body.actions],
    )


def public(message: Any) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


@router.get("")
async def list_rules(user: CurrentUser, routing: RoutingClient, ctx: Context) -> list[dict[str, Any]]:
    """The tenant's rules in the order they run."""
    reply = await routing.ListRules(pb.TenantRef(tenant_id=user.tenant_id), timeout=ctx.timeout)
    return [public(r) for r in reply.rules]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_rule(
    body: RuleIn, admin: CurrentAdmin, routing: RoutingClient, ctx: Context
) -> dict[str, Any]:
    """Add a rule (at `position`, or last)."""
    rule = await routing.SaveRule(pb.SaveRuleRequest(rule=to_pb(admin.tenant_id, body), by_user_id=admin.user_id), timeout=ctx.timeout)  # fmt: skip
    return public(rule)


@router.put("/{rule_id}")
async def update_rule(rule_id: str, body: RuleIn, admin: CurrentAdmin, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Replace a rule's conditions and actions (and move it when `position` is given)."""
    rule = await routing.SaveRule(pb.SaveRuleRequest(rule=to_pb(admin.tenant_id, body, rule_id), by_user_id=admin.user_id), timeout=ctx.timeout)  # fmt: skip
    return public(rule)


@router.delete("/{rule_id}")
async def delete_rule(
    rule_id: str, admin: CurrentAdmin, routing: RoutingClient, ctx: Context
) -> list[dict[str, Any]]:
    """Remove a rule; returns the remaining rules."""
    reply = await routing.RemoveRule(
        pb.RuleRef(tenant_id=admin.tenant_id, rule_id=rule_id), timeout=ctx.timeout
    )
    return [public(r) for r in reply.rules]


class OrderIn(BaseModel):
    rule_ids: list[str]


@router.post("/order")
async def reorder_rules(body: OrderIn, admin: CurrentAdmin, routing: RoutingClient, ctx: Context) -> list[dict[str, Any]]:  # fmt: skip
    """Set the order rules run in (ids first to last; rules not named keep their order after them)."""
    reply = await routing.ReorderRules(pb.ReorderRulesRequest(tenant_id=admin.tenant_id, rule_ids=body.rule_ids), timeout=ctx.timeout)  # fmt: skip
    return [public(r) for r in reply.rules]


@router.post("/try")
async def try_rule(body: TryIn, user: CurrentUser, routing: RoutingClient, ctx: Context) -> dict[str, Any]:
    """What an (unsaved) rule would match among the last N threads; changes nothing."""
    reply = await routing.TryRule(pb.TryRuleRequest(rule=to_pb(user.tenant_id, body), last=body.last), timeout=ctx.timeout)  # fmt: skip
    return public(reply)
