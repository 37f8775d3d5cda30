"""Object store on S3 (MinIO in the cluster, SeaweedFS on a test machine): the ObjectStore protocol
over the minio SDK.

Every request is bounded (connect and read timeouts, one retry), so a dead or hung S3 becomes one
StoreUnavailable within seconds instead of a request thread that waits for minutes; the API turns
it into 503 `unavailable`. A single PUT is atomic in S3: readers see the old object or the new one.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager

import certifi
import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from services.common.objects import ObjectNotFound, StoreUnavailable, check_key

_MISSING = ("NoSuchKey", "NoSuchObject")
_BUCKET_TAKEN = ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")


def _http(secure: bool, timeout_s: float) -> urllib3.PoolManager:
    """minio's own pool waits 5 minutes per read and retries 5 times; ours gives up in seconds."""
    retry = urllib3.Retry(total=1, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504))
    timeout = urllib3.Timeout(connect=min(timeout_s, 2.0), read=timeout_s)
    tls = {"cert_reqs": "CERT_REQUIRED", "ca_certs": os.environ.get("SSL_CERT_FILE") or certifi.where()} if secure else {}
    return urllib3.PoolManager(timeout=timeout, retries=retry, maxsize=16, **tls)


class S3ObjectStore:
    """Objects under their keys in one bucket, created when missing."""

    def __init__(
        self, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool = False, region: str = "us-east-1", timeout_s: float = 3.0
    ) -> None:
        """endpoint is host:port (no scheme). Raises StoreUnavailable when S3 cannot be used, ValueError
        for a bucket name S3 would refuse."""
        self.endpoint = endpoint
        self.bucket = bucket
        # region given: the SDK would otherwise ask the server for the bucket's location first
        self._client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region, http_client=_http(secure, timeout_s))
        with self._errors("create bucket"):
            if not self._client.bucket_exists(bucket):
                try:
                    self._client.make_bucket(bucket)
                except S3Error as exc:  # another replica made it meanwhile
                    if exc.code not in _BUCKET_TAKEN:
                        raise

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Every SDK and transport failure as one StoreUnavailable with a one-line reason."""
        try:
            yield
        except S3Error as exc:
            raise StoreUnavailable(f"object store {self.endpoint} refused {action}: {exc.code}: {exc.message}") from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the connection error
            raise StoreUnavailable(f"object store {self.endpoint} unreachable ({action}): {str(reason)[:200]}") from exc

    def put(self, key: str, data: bytes) -> None:
        with self._errors(f"put {check_key(key)}"):
            self._client.put_object(self.bucket, key, io.BytesIO(data), len(data))

    def get(self, key: str) -> bytes:
        with self._errors(f"get {check_key(key)}"):
            try:
                response = self._client.get_object(self.bucket, key)
            except S3Error as exc:
                if exc.code in _MISSING:
                    raise ObjectNotFound(key) from None
                raise
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def delete(self, key: str) -> None:
        with self._errors(f"delete {check_key(key)}"):
            self._client.remove_object(self.bucket, key)

    def delete_prefix(self, prefix: str) -> None:
        with self._errors(f"delete {check_key(prefix)}/*"):
            listed = self._client.list_objects(self.bucket, prefix=f"{prefix}/", recursive=True)
            failed = list(self._client.remove_objects(self.bucket, (DeleteObject(o.object_name) for o in listed)))
        if failed:
            raise StoreUnavailable(f"object store {self.endpoint} kept {len(failed)} objects under {prefix}/: {failed[0].code}")

    def ping(self) -> None:
        with self._errors("ping"):
            exists = self._client.bucket_exists(self.bucket)
        if not exists:
            raise StoreUnavailable(f"object store {self.endpoint} has no bucket {self.bucket!r}")
