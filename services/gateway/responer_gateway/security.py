"""Password hashing (argon2) and signed, expiring session tokens (itsdangerous).

Neither function logs or returns a secret; a token carries only the user's and tenant's ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        # Verified against when the user does not exist, so a wrong address costs as much time
        # as a wrong password and the answer's timing does not reveal which accounts exist.
        self._dummy = self._hasher.hash("responer-no-such-user")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True)
class Session:
    user_id: str
    tenant_id: str


class Tokens:
    def __init__(self, secret: str, ttl_s: int) -> None:
        if len(secret) < 16:
            raise ValueError("RESPONER_SESSION_SECRET must be at least 16 characters")
        self._serializer = URLSafeTimedSerializer(secret, salt="responer-session-v1")
        self.ttl_s = ttl_s

    def issue(self, session: Session) -> str:
        return self._serializer.dumps({"uid": session.user_id, "tid": session.tenant_id})

    def verify(self, token: str) -> Session | None:
        try:
            data = self._serializer.loads(token, max_age=self.ttl_s)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict) or not data.get("uid") or not data.get("tid"):
            return None
        return Session(user_id=str(data["uid"]), tenant_id=str(data["tid"]))
