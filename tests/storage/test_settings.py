"""CPNAV_ATTACHMENTS_STORAGE and its CPNAV_S3_* companions, read at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.core.test_settings import PRODUCTION, run_check

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import json, cpnav.settings as s; "
    "print(json.dumps([s.STORAGES['attachments'], str(s.ATTACHMENTS_DIR)]))"
)


def settings_with(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    skip = ("CPNAV_", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "AWS_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return subprocess.run(
        [sys.executable, "-c", SHOW],
        env={**base, "CPNAV_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def attachments_storage(env: dict[str, str], tmp_path: Path) -> tuple[dict[str, Any], str]:
    done = settings_with(env, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    storage, folder = json.loads(done.stdout)
    return storage, folder


def test_a_folder_by_default(tmp_path: Path) -> None:
    storage, folder = attachments_storage({}, tmp_path)
    assert storage == {"BACKEND": "cpnav.core.storage.LocalAttachmentStorage"}
    assert folder == str(tmp_path / "attachments")
    shared = tmp_path / "mnt" / "cpnav-attachments"
    storage, folder = attachments_storage(
        {"CPNAV_ATTACHMENTS_STORAGE": "filesystem", "CPNAV_ATTACHMENTS_DIR": str(shared)},
        tmp_path,
    )
    assert folder == str(shared)


def test_a_bucket_with_s3_managed_encryption_by_default(tmp_path: Path) -> None:
    storage, _ = attachments_storage(
        {"CPNAV_ATTACHMENTS_STORAGE": "s3", "CPNAV_S3_BUCKET": "cpnav-attachments"}, tmp_path
    )
    assert storage == {
        "BACKEND": "cpnav.core.storage.S3AttachmentStorage",
        "OPTIONS": {
            "bucket_name": "cpnav-attachments",
            "endpoint_url": None,
            "region_name": None,
            "object_parameters": {"ServerSideEncryption": "AES256"},
        },
    }


def test_an_s3_compatible_service_with_kms(tmp_path: Path) -> None:
    storage, _ = attachments_storage(
        {
            "CPNAV_ATTACHMENTS_STORAGE": "s3",
            "CPNAV_S3_BUCKET": "cpnav-attachments",
            "CPNAV_S3_ENDPOINT_URL": "https://objects.example.gov:9000",
            "CPNAV_S3_REGION": "us-gov-west-1",
            "CPNAV_S3_SSE": "aws:kms",
            "CPNAV_S3_KMS_KEY_ID": "alias/cpnav",
        },
        tmp_path,
    )
    assert storage["OPTIONS"] == {
        "bucket_name": "cpnav-attachments",
        "endpoint_url": "https://objects.example.gov:9000",
        "region_name": "us-gov-west-1",
        "object_parameters": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/cpnav"},
    }
    storage, _ = attachments_storage(
        {"CPNAV_ATTACHMENTS_STORAGE": "s3", "CPNAV_S3_BUCKET": "b", "CPNAV_S3_SSE": "none"},
        tmp_path,
    )
    assert storage["OPTIONS"]["object_parameters"] == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CPNAV_ATTACHMENTS_STORAGE": "nfs"}, "CPNAV_ATTACHMENTS_STORAGE: expected one of"),
        ({"CPNAV_ATTACHMENTS_STORAGE": "s3"}, "CPNAV_S3_BUCKET: required"),
        (
            {"CPNAV_ATTACHMENTS_STORAGE": "s3", "CPNAV_S3_BUCKET": "b", "CPNAV_S3_SSE": "aes"},
            "CPNAV_S3_SSE: expected one of",
        ),
        (
            {
                "CPNAV_ATTACHMENTS_STORAGE": "s3",
                "CPNAV_S3_BUCKET": "b",
                "CPNAV_S3_ENDPOINT_URL": "objects.example.gov",
            },
            "CPNAV_S3_ENDPOINT_URL: expected https://host[:port]",
        ),
        (
            {"CPNAV_ATTACHMENTS_STORAGE": "s3", "CPNAV_S3_BUCKET": "b", "CPNAV_S3_KMS_KEY_ID": "k"},
            "CPNAV_S3_KMS_KEY_ID: only used with CPNAV_S3_SSE=aws:kms",
        ),
    ],
)
def test_bad_values_stop_start_up(env: dict[str, str], message: str, tmp_path: Path) -> None:
    done = settings_with(env, tmp_path)
    assert done.returncode != 0
    assert message in done.stderr


S3_PRODUCTION = {
    **PRODUCTION,
    "CPNAV_ATTACHMENTS_STORAGE": "s3",
    "CPNAV_S3_BUCKET": "cpnav-attachments",
    "CPNAV_S3_ENDPOINT_URL": "https://objects.example.gov",
}


def test_production_with_a_bucket_passes_the_deploy_checks(tmp_path: Path) -> None:
    result = run_check(S3_PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_plain_http_to_the_bucket(tmp_path: Path) -> None:
    result = run_check({**S3_PRODUCTION, "CPNAV_S3_ENDPOINT_URL": "http://10.0.0.5:9000"}, tmp_path)
    assert result.returncode != 0
    assert "CPNAV_S3_ENDPOINT_URL: must be https in production" in result.stderr
