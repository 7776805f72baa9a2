"""A real HTTP S3 endpoint for tests: moto's threaded server, stoppable and restartable on the
same port (its buckets live in this process, so they survive a restart, as a real outage)."""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from moto.server import ThreadedMotoServer

from tests.helpers import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "courtcast-test",
    "AWS_SECRET_ACCESS_KEY": "courtcast-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def use_dummy_credentials() -> None:
    """moto accepts any signature; boto3 still wants some credentials to sign with."""
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)


@dataclass
class S3Server:
    port: int = field(default_factory=free_port)
    _server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        use_dummy_credentials()
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            config=BotoConfig(retries={"total_max_attempts": 1}, connect_timeout=2,
                              read_timeout=10),
        )

    def new_bucket(self, *, public_prefix: str | None = None) -> str:
        """A fresh bucket; `public_prefix`: anonymous GET allowed under it (a bucket policy,
        as an operator grants for `PREFIX/public/`)."""
        name = f"courtcast-{uuid.uuid4().hex[:12]}"
        client = self.client()
        client.create_bucket(Bucket=name)
        if public_prefix is not None:
            client.put_bucket_policy(Bucket=name, Policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                               "Resource": f"arn:aws:s3:::{name}/{public_prefix}*"}],
            }))
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))
