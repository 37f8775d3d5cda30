"""S3ObjectStore against a real S3 (SeaweedFS `weed mini` on 127.0.0.1): the ObjectStore contract,
hostile keys, bad credentials, and a dead or hung S3 that must fail fast and recover with its data."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from backends import S3_ACCESS_KEY, S3_SECRET_KEY, SeaweedS3
from services.common.objects import ObjectNotFound, StoreUnavailable
from services.common.objects_s3 import S3ObjectStore

FAST_S = 3.0  # a dead S3 must answer within this, not hang a request thread


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = SeaweedS3(tmp_path_factory.mktemp("s3") / "data").start()
    yield server
    server.kill()


def _store(s3: SeaweedS3, bucket: str | None = None, **kwargs: object) -> S3ObjectStore:
    return S3ObjectStore(s3.endpoint, S3_ACCESS_KEY, S3_SECRET_KEY, bucket or f"t-{uuid.uuid4().hex[:12]}", **kwargs)


@pytest.fixture
def store(s3) -> S3ObjectStore:
    return _store(s3)


def _fails_fast(call) -> StoreUnavailable:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        call()
    assert time.monotonic() - started < FAST_S, f"took {time.monotonic() - started:.1f} s"
    assert "\n" not in str(info.value)
    return info.value


def test_round_trip_overwrite_and_large_objects(store):
    every_byte = bytes(range(256)) * 4
    store.put("products/p1/golden/g1", every_byte)
    assert store.get("products/p1/golden/g1") == every_byte
    store.put("products/p1/golden/g1", b"second")
    assert store.get("products/p1/golden/g1") == b"second"
    store.put("products/p1/empty", b"")
    assert store.get("products/p1/empty") == b""
    large = os.urandom(6 * 2**20 + 123)  # over the SDK's 5 MiB part size: a multipart upload
    store.put("products/p1/fingerprints/v1.safetensors", large)
    assert store.get("products/p1/fingerprints/v1.safetensors") == large
    store.ping()


def test_missing_keys_and_delete(store):
    with pytest.raises(ObjectNotFound):
        store.get("products/p1/nothing")
    store.delete("products/p1/nothing")  # missing: not an error
    store.put("products/p1/x", b"x")
    store.delete("products/p1/x")
    with pytest.raises(ObjectNotFound):
        store.get("products/p1/x")


def test_delete_prefix_stops_at_the_slash(store):
    keys = ["p/a", "p/b/c", "p/b/d", "pa/x", "p"]
    for key in keys:
        store.put(key, key.encode())
    store.delete_prefix("p")
    for key in ["p/a", "p/b/c", "p/b/d"]:
        with pytest.raises(ObjectNotFound):
            store.get(key)
    assert store.get("pa/x") == b"pa/x" and store.get("p") == b"p"
    store.delete_prefix("nothing/here")  # empty prefix: nothing to do


@pytest.mark.parametrize("key", ["../x", "/abs", "a//b", "a/../b", "a/./b", "", "a/", "t\u0456le", "a\x00b", "a b", "a\\b"])
def test_hostile_keys_refused(store, key):
    for call in (lambda: store.put(key, b"x"), lambda: store.get(key), lambda: store.delete(key), lambda: store.delete_prefix(key)):
        with pytest.raises(ValueError, match="bad object key"):
            call()


def test_bucket_is_created_once_and_shared(s3):
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    first = _store(s3, bucket)
    first.put("k", b"v")
    second = _store(s3, bucket)  # the bucket exists now: no error, same objects
    assert second.get("k") == b"v"
    with pytest.raises(ValueError):
        _store(s3, "No_Such Bucket!")


def test_wrong_credentials_are_a_clear_error(s3):
    error = _fails_fast(lambda: S3ObjectStore(s3.endpoint, S3_ACCESS_KEY, "wrong-secret", "goldenshot"))
    assert s3.endpoint in str(error) and "AccessDenied" in str(error)


def test_dead_s3_fails_fast_and_recovers_with_its_data(s3):
    store = _store(s3)
    store.put("products/p1/image", b"kept across the crash")
    s3.kill()
    try:
        error = _fails_fast(lambda: store.get("products/p1/image"))
        assert s3.endpoint in str(error) and "unreachable" in str(error)
        _fails_fast(lambda: store.put("products/p1/other", b"x"))
        _fails_fast(lambda: store.delete_prefix("products/p1"))
        _fails_fast(store.ping)
        _fails_fast(lambda: _store(s3))
    finally:
        s3.start()
    assert store.get("products/p1/image") == b"kept across the crash"
    store.put("products/p1/other", b"after")
    assert store.get("products/p1/other") == b"after"


def test_hung_s3_times_out(s3):
    store = _store(s3, timeout_s=1.0)
    store.put("k", b"v")
    s3.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="unreachable"):
            store.get("k")
        elapsed = time.monotonic() - started
    finally:
        s3.resume()
    assert elapsed < 4 * 1.0, f"a hung S3 held the caller {elapsed:.1f} s"  # two tries of the 1 s read timeout
    assert store.get("k") == b"v"
