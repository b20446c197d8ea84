"""The blob store port and its implementations: raw MIME and attachments, stored once by sha256.

- PostgresBlobStore: the default, in ingest's schema (nothing else to run).
- FilesystemBlobStore: one file per blob under a directory, written atomically.
- S3BlobStore: any S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...), through a small client
  that signs its requests with AWS Signature Version 4 (no SDK needed).

Every implementation passes the same contract tests (services/ingest/tests/integration/
test_blob_store_contract.py).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from psycopg_pool import ConnectionPool

DDL = """
CREATE TABLE IF NOT EXISTS ingest.blobs (
    sha256 text PRIMARY KEY,
    size bigint NOT NULL,
    data bytea NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
)
"""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...
    def put_many(self, blobs: list[bytes]) -> list[str]: ...
    def get(self, sha256: str) -> bytes | None: ...
    def exists(self, sha256: str) -> bool: ...


def _check(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256


class PostgresBlobStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        with self.pool.connection() as conn:
            conn.execute(DDL)

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO ingest.blobs (sha256, size, data) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (digest, len(data), data),
            )
        return digest

    def put_many(self, blobs: list[bytes]) -> list[str]:
        """All in one transaction: one commit for a whole fetched batch."""
        unique = {hashlib.sha256(data).hexdigest(): data for data in blobs}
        if unique:
            with self.pool.connection() as conn, conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO ingest.blobs (sha256, size, data) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    [(digest, len(data), data) for digest, data in sorted(unique.items())],
                )
        return [hashlib.sha256(data).hexdigest() for data in blobs]

    def get(self, sha256: str) -> bytes | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT data FROM ingest.blobs WHERE sha256 = %s", (_check(sha256),)
            ).fetchone()
        return bytes(row[0]) if row else None

    def exists(self, sha256: str) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT 1 FROM ingest.blobs WHERE sha256 = %s", (_check(sha256),)).fetchone()
        return row is not None


class FilesystemBlobStore:
    """`<root>/ab/cd/abcd…` files. A blob is written to a temporary file and renamed into place, so a
    reader never sees half a blob and a crash leaves at most a stray temporary file."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        _check(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def put_many(self, blobs: list[bytes]) -> list[str]:
        return [self.put(data) for data in blobs]

    def get(self, sha256: str) -> bytes | None:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()


# -- S3 ---------------------------------------------------------------------------------------------


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(
    *,
    method: str,
    url: str,
    region: str,
    access_key: str,
    secret_key: str,
    payload_sha256: str,
    now: datetime | None = None,
    service: str = "s3",
    extra_headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers that sign one request with AWS Signature Version 4 (header form).

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
    """
    now = now or datetime.now(UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = now.strftime("%Y%m%d")
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc
    canonical_uri = urllib.parse.quote(parts.path or "/", safe="/-_.~")
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in sorted(query)
    )
    headers = {"host": host, "x-amz-content-sha256": payload_sha256, "x-amz-date": amz_date}
    for key, value in (extra_headers or {}).items():
        headers[key.lower()] = value.strip()
    signed = sorted(headers)
    canonical_headers = "".join(f"{k}:{headers[k]}\n" for k in signed)
    signed_headers = ";".join(signed)
    canonical_request = "\n".join(
        [method, canonical_uri, canonical_query, canonical_headers, signed_headers, payload_sha256]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    result = {k: v for k, v in headers.items() if k != "host"}
    result["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
    return result


class S3Error(RuntimeError):
    pass


class _Transient(Exception):
    pass


class S3BlobStore:
    """Blobs as objects `<prefix><sha256>` in one bucket, path-style URLs (`endpoint/bucket/key`),
    which every S3-compatible server accepts."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "blobs/",
        timeout: float = 30.0,
        create_bucket: bool = False,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.prefix = prefix
        self.timeout = timeout
        if create_bucket:
            self._request("PUT", f"{self.endpoint}/{self.bucket}", b"", ok=(200, 409))

    def __repr__(self) -> str:
        return f"S3BlobStore({self.endpoint!r}, bucket={self.bucket!r})"

    def _url(self, sha256: str) -> str:
        return f"{self.endpoint}/{self.bucket}/{self.prefix}{_check(sha256)}"

    def _request(
        self, method: str, url: str, body: bytes = b"", ok: tuple[int, ...] = (200,)
    ) -> tuple[int, bytes]:
        """One signed request; 5xx answers (S3's 503 SlowDown, a busy gateway) are retried with backoff."""
        for attempt in range(4):
            try:
                return self._request_once(method, url, body, ok)
            except _Transient as exc:
                if attempt == 3:
                    raise S3Error(str(exc)) from None
                time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")

    def _request_once(self, method: str, url: str, body: bytes, ok: tuple[int, ...]) -> tuple[int, bytes]:
        payload_sha = hashlib.sha256(body).hexdigest()
        headers = sigv4_headers(
            method=method,
            url=url,
            region=self.region,
            access_key=self.access_key,
            secret_key=self.secret_key,
            payload_sha256=payload_sha,
        )
        if method == "PUT":
            # Without it urllib sends form-urlencoded, which some servers parse (and consume) as a form.
            headers["Content-Type"] = "application/octet-stream"
        request = urllib.request.Request(
            url, data=body if method == "PUT" else None, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return exc.code, exc.read()
            detail = exc.read()[:300].decode("utf-8", "replace")
            if exc.code >= 500:
                raise _Transient(f"S3 {method} {url} answered {exc.code}: {detail}") from None
            raise S3Error(f"S3 {method} {url} answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise _Transient(f"S3 {method} {url} failed: {exc}") from None

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            self._request("PUT", self._url(digest), data)
        return digest

    def put_many(self, blobs: list[bytes]) -> list[str]:
        return [self.put(data) for data in blobs]

    def get(self, sha256: str) -> bytes | None:
        status, body = self._request("GET", self._url(sha256), ok=(200, 404))
        return body if status == 200 else None

    def exists(self, sha256: str) -> bool:
        status, _ = self._request("HEAD", self._url(sha256), ok=(200, 404))
        return status == 200
