"""Attachment storage backends under test: a folder, and a bucket on an S3 EMULATOR.

The S3 side runs against moto's standalone server (``ThreadedMotoServer``) on
127.0.0.1 - an emulator of the S3 API, not Amazon S3 itself - started once per test
session; each test gets a new, empty bucket. Credentials are dummies in the
environment, the way a deployment passes real ones (or an instance role does).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pytest_django.fixtures import Settings

from cpnav.core import storage

REGION = "us-east-1"
S3_BACKEND = "cpnav.core.storage.S3AttachmentStorage"
LOCAL_BACKEND = "cpnav.core.storage.LocalAttachmentStorage"
# The emulator checks no signature; random, so nothing here looks like a kept secret.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "synthetic-test-key",
    "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """http://127.0.0.1:PORT of a moto S3 emulator running in this process."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    env = {**DUMMY_CREDENTIALS, "AWS_EC2_METADATA_DISABLED": "true"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@dataclass
class Bucket:
    """A bucket on the emulator, read and changed behind cpnav's back."""

    endpoint: str
    name: str

    @property
    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def objects(self) -> dict[str, bytes]:
        client = self.client
        listed = client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return {
            entry["Key"]: client.get_object(Bucket=self.name, Key=entry["Key"])["Body"].read()
            for entry in listed
        }

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def head(self, key: str) -> dict[str, Any]:
        head: dict[str, Any] = self.client.head_object(Bucket=self.name, Key=key)
        return head

    def pending_uploads(self) -> list[Any]:
        uploads: list[Any] = self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])
        return uploads

    def options(self, **extra: Any) -> dict[str, Any]:
        return {
            "bucket_name": self.name,
            "endpoint_url": self.endpoint,
            "region_name": REGION,
            "object_parameters": {"ServerSideEncryption": "AES256"},
            **extra,
        }


def new_bucket(endpoint: str) -> Bucket:
    bucket = Bucket(endpoint, f"cpnav-test-{secrets.token_hex(6)}")
    bucket.client.create_bucket(Bucket=bucket.name)
    return bucket


@pytest.fixture
def bucket(s3_endpoint: str, aws_env: dict[str, str]) -> Bucket:
    return new_bucket(s3_endpoint)


def use_s3(settings: Settings, bucket: Bucket, **extra: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": S3_BACKEND, "OPTIONS": bucket.options(**extra)},
    }


@dataclass
class Backend:
    """The configured attachments storage as a test sees it: its files, by name."""

    kind: str
    local: Path  # ATTACHMENTS_DIR: the folder itself, or only the staging area for S3
    bucket: Bucket | None

    def files(self) -> dict[str, bytes]:
        if self.bucket is not None:
            return self.bucket.objects()
        return {name: path.read_bytes() for name, path in storage.local_files(self.local)}

    def alter(self, name: str, data: bytes) -> None:
        if self.bucket is not None:
            self.bucket.put(name, data)
        else:
            (self.local / name).write_bytes(data)

    def delete(self, name: str) -> None:
        if self.bucket is not None:
            self.bucket.client.delete_object(Bucket=self.bucket.name, Key=name)
        else:
            (self.local / name).unlink()

    @property
    def tmp(self) -> Path:
        return self.local / "tmp"

    def leftovers(self) -> list[Path]:
        """Anything still in the local staging area (there should be nothing)."""
        return sorted(p for p in self.tmp.rglob("*") if p.is_file()) if self.tmp.exists() else []


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Backend:
    """Each test that takes it runs twice: on a folder, and on a bucket of the emulator."""
    settings.ATTACHMENTS_DIR = tmp_path / "attachments"
    settings.ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
    if request.param == "filesystem":
        settings.STORAGES = {**settings.STORAGES, "attachments": {"BACKEND": LOCAL_BACKEND}}
        return Backend("filesystem", tmp_path / "attachments", None)
    bucket: Bucket = request.getfixturevalue("bucket")
    use_s3(settings, bucket)
    return Backend("s3", tmp_path / "attachments", bucket)


@pytest.fixture
def s3_backend(settings: Settings, tmp_path: Path, bucket: Bucket) -> Backend:
    """Only the bucket, for what a folder does not have (parts, encryption by the service)."""
    settings.ATTACHMENTS_DIR = tmp_path / "attachments"
    use_s3(settings, bucket)
    return Backend("s3", tmp_path / "attachments", bucket)
