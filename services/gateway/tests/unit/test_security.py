"""Password hashing and session tokens."""

from __future__ import annotations

import time

import pytest
from responer_gateway.security import Passwords, Session, Tokens

pytestmark = pytest.mark.unit


def test_passwords_verify_only_the_right_password():
    passwords = Passwords()
    hashed = passwords.hash("zażółć gęślą jaźń")
    assert hashed.startswith("$argon2") and "zażółć" not in hashed
    assert passwords.verify(hashed, "zażółć gęślą jaźń")
    assert not passwords.verify(hashed, "zazolc gesla jazn")
    assert not passwords.verify(None, "anything")  # unknown user: still a full verify, still False
    assert not passwords.verify("not-a-hash", "anything")


def test_a_token_carries_user_and_tenant_and_is_tamper_proof():
    tokens = Tokens("s" * 32, ttl_s=60)
    token = tokens.issue(Session("u1", "t1"))
    assert tokens.verify(token) == Session("u1", "t1")
    assert tokens.verify(token[:-2] + "xx") is None
    assert Tokens("o" * 32, ttl_s=60).verify(token) is None


def test_a_token_expires(monkeypatch):
    tokens = Tokens("s" * 32, ttl_s=60)
    token = tokens.issue(Session("u1", "t1"))
    later = time.time() + 61
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert tokens.verify(token) is None


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="at least 16"):
        Tokens("short", 60)
