"""Blocking S3 calls through boto3, one object per call; errors become `StorageError`s.

Run from worker threads (boto3 clients are thread-safe). Keys passed in are the storage's keys;
the bucket prefix of `--storage s3://BUCKET/PREFIX` is added and stripped here only.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlparse

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from courtcast.storage.base import ObjectMeta, ObjectNotFound, StorageError

NOT_FOUND = ("NoSuchKey", "404", "NotFound")
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
DNS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str = ""  # '' or ending in '/'
    endpoint: str | None = None  # None: AWS itself
    addressing_style: str = "auto"


class S3Client:
    def __init__(self, location: S3Location, *, connections: int = 12,
                 connect_timeout: float = 3.0, read_timeout: float = 20.0) -> None:
        self.location = location
        config = BotoConfig(
            s3={"addressing_style": location.addressing_style},
            signature_version="s3v4",
            # The spool retries with backoff; botocore retrying too would only delay that.
            retries={"mode": "standard", "total_max_attempts": 2},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=connections,
            # Default CRC trailers (botocore >= 1.36) break many S3-compatible servers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=location.endpoint, config=config
        )

    @property
    def bucket(self) -> str:
        return self.location.bucket

    def full_key(self, key: str) -> str:
        return f"{self.location.prefix}{key}"

    def put(self, key: str, body: bytes, meta: ObjectMeta) -> None:
        self._call("put", key, self._client.put_object, Bucket=self.bucket,
                   Key=self.full_key(key), Body=body, ContentType=meta.content_type,
                   CacheControl=meta.cache_control)

    def copy(self, source: str, target: str, meta: ObjectMeta) -> None:
        """Server-side CopyObject; `ObjectNotFound` when the source is missing."""
        self._call("copy", f"{source} -> {target}", self._client.copy_object,
                   Bucket=self.bucket, Key=self.full_key(target),
                   CopySource={"Bucket": self.bucket, "Key": self.full_key(source)},
                   MetadataDirective="REPLACE", ContentType=meta.content_type,
                   CacheControl=meta.cache_control)

    def get(self, key: str) -> bytes:
        answer = self._call("get", key, self._client.get_object, Bucket=self.bucket,
                            Key=self.full_key(key))
        try:
            return bytes(answer["Body"].read())
        except (BotoCoreError, OSError) as exc:
            raise StorageError(f"S3 get {key}: {exc}") from exc

    def head(self, key: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("head", key, self._client.head_object,
                                            Bucket=self.bucket, Key=self.full_key(key))
        return answer

    def list_keys(self, prefix: str) -> list[str]:
        strip = len(self.location.prefix)
        keys: list[str] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.full_key(prefix))
        try:
            for page in pages:
                keys.extend(item["Key"][strip:] for item in page.get("Contents", ()))
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, f"list {prefix}") from exc
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> list[str]:
        """Delete every object under `prefix`; return the keys deleted."""
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": self.full_key(key)} for key in keys[start:start + DELETE_BATCH]]
            answer = self._call("delete", prefix, self._client.delete_objects,
                                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise StorageError(f"S3 delete under {prefix}: {first.get('Code')} "
                                   f"{first.get('Message')} ({len(answer['Errors'])} keys)")
        return keys

    def presign(self, key: str, seconds: int) -> str:
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.full_key(key)},
            ExpiresIn=seconds)
        return url

    def object_url(self, key: str) -> str:
        """The object's plain URL on the endpoint (public buckets)."""
        endpoint = self.location.endpoint or f"https://s3.{self._region()}.amazonaws.com"
        parsed = urlparse(endpoint)
        path = quote(self.full_key(key), safe="/-_.~")
        if self._virtual_host(parsed.hostname or ""):
            base = parsed.path.rstrip("/")
            return f"{parsed.scheme}://{self.bucket}.{parsed.netloc}{base}/{path}"
        return f"{endpoint.rstrip('/')}/{self.bucket}/{path}"

    def _virtual_host(self, host: str) -> bool:
        style = self.location.addressing_style
        if style == "path" or _is_ip_or_localhost(host):
            return False
        # auto: virtual-host on AWS (path style is deprecated there), path style elsewhere
        # (MinIO, Ceph without wildcard DNS); OSS and COS want `virtual` or a public URL.
        return style == "virtual" or (
            self.location.endpoint is None and DNS_BUCKET.fullmatch(self.bucket) is not None
        )

    def _region(self) -> str:
        return str(self._client.meta.region_name or "us-east-1")

    def _call(self, action: str, what: str, method: Any, **params: Any) -> Any:
        try:
            return method(**params)
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, f"{action} {what}") from exc


def _translate(exc: Exception, what: str) -> StorageError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in NOT_FOUND:
            return ObjectNotFound(what)
        return StorageError(f"S3 {what}: {code} {error.get('Message', '')}".rstrip())
    return StorageError(f"S3 {what}: {exc}")


def _is_ip_or_localhost(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
