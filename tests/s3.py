"""A real S3-compatible server for the tests: moto in server mode, on a free loopback port, offline.

`s3_server` (session) starts it once per test process; `s3_storage` turns the default storage into a fresh bucket
on it for one test (STORAGES as STORAGE_URL sets it) and gives a `Bucket` to look inside.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from tests.servers import free_port

ACCESS_KEY = "cursive-test"
SECRET_KEY = "cursive-test-secret"
REGION = "us-east-1"
_buckets = itertools.count(1)


@dataclass(frozen=True)
class Bucket:
    endpoint: str
    name: str

    @property
    def storage_url(self) -> str:
        """The STORAGE_URL a process started by a test uses to reach this bucket."""
        return f"s3://{ACCESS_KEY}:{SECRET_KEY}@{self.name}?endpoint_url={self.endpoint}&region={REGION}&addressing_style=path"

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY
        )

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", ()))

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.name, Key=key)["Body"].read()


@pytest.fixture(scope="session")
def s3_server():
    # Imported here: every test process loads this plugin, few tests need moto (and its web framework).
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server) -> Bucket:
    bucket = Bucket(endpoint=s3_server, name=f"cursive-test-{next(_buckets)}")
    bucket.client().create_bucket(Bucket=bucket.name)
    return bucket


@pytest.fixture
def s3_storage(settings, s3_bucket) -> Bucket:
    from cursive.storage_url import s3_options

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_options(s3_bucket.storage_url)},
    }
    return s3_bucket
