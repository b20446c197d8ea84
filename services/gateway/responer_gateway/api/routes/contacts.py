"""Contacts: every sender of a tenant, saved by routing on first mail; editable, with attributes
(such as VIP) that rules can test; a contact's threads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator
from responer.routing.v1 import routing_pb2 as pb
from responer.search.v1 import search_pb2

from responer_gateway.api import convert
from responer_gateway.api.deps import Context, CurrentUser, RoutingClient, SearchClient
from responer_gateway.api.routes.rules import public
from responer_gateway.api.schemas import ThreadsPublic

router = APIRouter(prefix="/api/contacts", tags=["contacts"])


class ContactUpdate(BaseModel):
    name: str = Field("", max_length=200, description="empty: unchanged")
    organisation: str = Field("", max_length=200, description="empty: unchanged")
    attributes: dict[str, str] = Field({}, description="merged; an empty value removes the attribute")

    @field_validator("attributes")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not name.strip() or len(name) > 100 or len(value) > 1000:
                raise ValueError("attribute names are 1-100 characters, values at most 1000")
        return {k.strip(): v for k, v in v.items()}


@router.get("")
async def list_contacts(
    user: CurrentUser,
    routing: RoutingClient,
    ctx: Context,
    q: Annotated[str, Query(max_length=200, description="part of the name, address or organisation")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """The tenant's contacts, optionally searched."""
    reply = await routing.ListContacts(
        pb.ListContactsRequest(tenant_id=user.tenant_id, query=q, limit=limit), timeout=ctx.timeout
    )
    return [public(c) for c in reply.contacts]


@router.get("/by-email/{email}")
async def read_contact_by_email(email: str, user: CurrentUser, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """One contact by address, with the ids of its threads."""
    contact = await routing.GetContact(
        pb.ContactRef(tenant_id=user.tenant_id, email=email), timeout=ctx.timeout
    )
    return public(contact)


@router.get("/{contact_id}")
async def read_contact(contact_id: str, user: CurrentUser, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """One contact, with the ids of its threads."""
    contact = await routing.GetContact(pb.ContactRef(tenant_id=user.tenant_id, contact_id=contact_id), timeout=ctx.timeout)  # fmt: skip
    return public(contact)


@router.patch("/{contact_id}")
async def update_contact(contact_id: str, body: ContactUpdate, user: CurrentUser, routing: RoutingClient, ctx: Context) -> dict[str, Any]:  # fmt: skip
    """Edit a contact's name, organisation or attributes (e.g. {"vip": "yes"})."""
    contact = await routing.UpdateContact(
        pb.UpdateContactRequest(tenant_id=user.tenant_id, contact_id=contact_id, **body.model_dump()),
        timeout=ctx.timeout,
    )
    return public(contact)


@router.get("/{contact_id}/threads", response_model=ThreadsPublic)
async def contact_threads(
    contact_id: str,
    user: CurrentUser,
    routing: RoutingClient,
    search: SearchClient,
    ctx: Context,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ThreadsPublic:
    """The contact's threads, newest activity first (the search read model's `from:` query)."""
    contact = await routing.GetContact(pb.ContactRef(tenant_id=user.tenant_id, contact_id=contact_id), timeout=ctx.timeout)  # fmt: skip
    page = await search.Search(
        search_pb2.SearchRequest(
            tenant_id=user.tenant_id, query=f'from:"{contact.email}"', limit=limit, cursor=cursor
        ),
        timeout=ctx.timeout,
    )
    return convert.thread_page(page)
