"""Tenants and users: deterministic ids, roles, password changes."""

from __future__ import annotations

import pytest
from responer_gateway.domain import Tenant, User, slugify

pytestmark = pytest.mark.unit


def test_a_user_id_comes_from_the_lower_cased_email():
    assert User.id_for("Anna@Shop.TEST") == User.id_for(" anna@shop.test ")
    assert User.id_for("anna@shop.test") != User.id_for("jan@shop.test")


def test_a_tenant_id_comes_from_its_slug():
    assert slugify("Sklep Żółw & Łoś") == "sklep-zolw-los"
    assert Tenant.id_for("Sklep Żółw") == Tenant.id_for("sklep zolw")
    tenant = Tenant(slug=slugify("Sklep Żółw"), name="Sklep Żółw")
    assert tenant.id == Tenant.id_for("Sklep Żółw")


def test_a_new_user_has_its_deterministic_id_and_normalised_email():
    tenant = Tenant(slug="acme", name="Acme")
    user = User(email="Admin@Acme.test", tenant_id=tenant.id, name="Ada", role="admin", password_hash="h")
    assert user.id == User.id_for("admin@acme.test")
    assert user.email == "admin@acme.test"
    user.change_password("h2")
    assert user.password_hash == "h2"
    assert [type(e).__name__ for e in user.collect_events()] == ["Added", "PasswordChanged"]


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="unknown role"):
        User(email="x@acme.test", tenant_id=Tenant.id_for("acme"), name="X", role="root", password_hash="h")
