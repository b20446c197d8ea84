"""One contract for every blob store: PostgreSQL, filesystem, and S3 (against a local S3-compatible
server, moto's, started in this process)."""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import UTC, datetime

import pytest
from psycopg_pool import ConnectionPool
from responer_ingest.adapters.blobs import (
    FilesystemBlobStore,
    PostgresBlobStore,
    S3BlobStore,
    S3Error,
    sigv4_headers,
)
from responer_runtime.esenv import ensure_schema

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_server():
    moto_server = pytest.importorskip("moto.server", reason="moto[s3] (dev dependency) is not installed")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["postgres", "filesystem", "s3"])
def store(request, tmp_path):
    if request.param == "postgres":
        pg = request.getfixturevalue("private_database")
        ensure_schema(
            host=pg.host, port=pg.port, dbname=pg.dbname, user=pg.user, password=pg.password, schema="ingest"
        )
        pool = ConnectionPool(
            f"host={pg.host} port={pg.port} dbname={pg.dbname} user={pg.user}",
            min_size=1,
            max_size=4,
            open=True,
        )
        yield PostgresBlobStore(pool)
        pool.close()
    elif request.param == "filesystem":
        yield FilesystemBlobStore(tmp_path / "blobs")
    else:
        endpoint = request.getfixturevalue("s3_server")
        yield S3BlobStore(
            endpoint, f"b{secrets.token_hex(4)}", "testing-key", "testing-secret", create_bucket=True
        )


def test_put_returns_the_sha256_and_get_returns_the_same_bytes(store):
    data = b"From: a@b\r\n\r\n" + bytes(range(256)) * 100
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.get(digest) == data
    assert store.exists(digest)


def test_storing_twice_keeps_one_copy_and_the_same_address(store):
    data = secrets.token_bytes(5000)
    assert store.put(data) == store.put(data)
    assert store.get(hashlib.sha256(data).hexdigest()) == data


def test_put_many_stores_a_batch_with_repeats_in_order(store):
    blobs = [secrets.token_bytes(100), b"same", secrets.token_bytes(3000), b"same"]
    digests = store.put_many(blobs)
    assert digests == [hashlib.sha256(b).hexdigest() for b in blobs]
    assert [store.get(d) for d in digests] == blobs
    assert store.put_many([]) == []


def test_empty_blob_and_unknown_digest(store):
    digest = store.put(b"")
    assert store.get(digest) == b""
    unknown = hashlib.sha256(b"never stored " + secrets.token_bytes(8)).hexdigest()
    assert store.get(unknown) is None
    assert not store.exists(unknown)


def test_a_malformed_address_is_refused(store):
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")


def test_concurrent_puts_of_the_same_blob_all_succeed(store):
    data = secrets.token_bytes(200_000)
    errors: list[BaseException] = []

    def put() -> None:
        try:
            store.put(data)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.get(hashlib.sha256(data).hexdigest()) == data


def test_s3_objects_live_in_their_bucket_under_the_prefix(s3_server):
    bucket = f"b{secrets.token_hex(4)}"
    store = S3BlobStore(s3_server, bucket, "k", "s", prefix="raw/", create_bucket=True)
    digest = store.put(b"signed")
    other = S3BlobStore(s3_server, bucket, "k", "s", prefix="other/")
    assert store.get(digest) == b"signed" and other.get(digest) is None


def test_sigv4_matches_the_documented_example():
    """AWS's published example (GET /test.txt, examplebucket) must give its published signature."""
    headers = sigv4_headers(
        method="GET",
        url="https://examplebucket.s3.amazonaws.com/test.txt",
        region="us-east-1",
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        payload_sha256=hashlib.sha256(b"").hexdigest(),
        now=datetime(2013, 5, 24, tzinfo=UTC),
        extra_headers={"Range": "bytes=0-9"},
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_s3_errors_are_clear(s3_server):
    store = S3BlobStore(s3_server, f"missing-{secrets.token_hex(4)}", "k", "s")
    with pytest.raises(S3Error, match="answered 404"):
        store.put(b"x")
