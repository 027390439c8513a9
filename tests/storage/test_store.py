"""Storing and reading attachments behave the same on a folder and on a bucket.

Every test taking ``backend`` runs twice: on the filesystem backend and on S3,
where S3 is moto's server on 127.0.0.1 - an EMULATOR of the S3 API, not Amazon's
service (tests/storage/conftest.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from cpnav.audit.models import AuditEvent, Outcome
from cpnav.cases.attachments import AttachmentError, open_stored, store
from cpnav.cases.models import Attachment
from cpnav.core import storage
from tests.cases.test_attachments import chunked, docx_bytes, pdf_bytes, png_bytes, zip_bytes
from tests.conftest import signed_in
from tests.route import Route
from tests.storage.conftest import Backend, Bucket, use_s3

KIB = 1024
MIB = 1024 * KIB
# Over boto3's 8 MB multipart threshold: sent in parts, put together only at the end.
LARGE_PDF = b"%PDF-1.4\n" + b"% synthetic padding line of a large scan\n" * 250_000 + b"%%EOF\n"


def s3_storage() -> storage.S3AttachmentStorage:
    backend = storage.attachment_storage()
    assert isinstance(backend, storage.S3AttachmentStorage)
    return backend


def test_a_stored_file_reads_back_verified(backend: Backend) -> None:
    data = png_bytes()
    stored = store(chunked(data, 7), name="photo.png")

    assert backend.files() == {stored.relative_path: data}
    assert stored.relative_path == f"{stored.sha256[:2]}/{stored.sha256[2:4]}/{stored.sha256}"
    with open_stored(stored.relative_path, stored.sha256) as handle:
        assert handle.tell() == 0
        assert handle.read() == data
    assert backend.leftovers() == []


def test_a_large_file_goes_in_parts_and_reads_back(backend: Backend) -> None:
    assert len(LARGE_PDF) > 8 * MIB
    stored = store(chunked(LARGE_PDF, 64 * KIB), name="scan.pdf")

    assert backend.files() == {stored.relative_path: LARGE_PDF}
    with open_stored(stored.relative_path, stored.sha256) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == stored.sha256
    assert backend.leftovers() == []


def test_the_same_content_is_stored_once(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    data = pdf_bytes()
    first = store([data], name="first.pdf")
    uploads: list[str] = []
    real_upload = storage.upload

    def counted(backend_storage: Any, name: str, path: Path) -> None:
        uploads.append(name)
        real_upload(backend_storage, name, path)

    monkeypatch.setattr(storage, "upload", counted)

    second = store(chunked(data, 3), name="second.pdf")

    assert first.relative_path == second.relative_path
    assert backend.files() == {first.relative_path: data}
    assert uploads == []  # the bucket was not sent the same bytes again


def test_storing_again_heals_a_truncated_copy(backend: Backend) -> None:
    data = pdf_bytes()
    stored = store([data], name="a.pdf")
    backend.alter(stored.relative_path, data[:10])

    store([data], name="a.pdf")

    assert open_stored(stored.relative_path, stored.sha256).read() == data


def test_an_altered_file_is_detected_on_read(backend: Backend) -> None:
    data = pdf_bytes()
    stored = store([data], name="report.pdf")
    tampered = bytearray(data)
    tampered[-3] ^= 0x01
    backend.alter(stored.relative_path, bytes(tampered))

    with pytest.raises(AttachmentError, match="the stored file is damaged"):
        open_stored(stored.relative_path, stored.sha256)
    assert backend.leftovers() == []  # the local copy of the bad object is gone too


def test_a_missing_file_is_named_as_missing(backend: Backend) -> None:
    stored = store([pdf_bytes()], name="report.pdf")
    backend.delete(stored.relative_path)

    with pytest.raises(AttachmentError, match="the stored file is missing"):
        open_stored(stored.relative_path, stored.sha256)


@pytest.mark.parametrize(
    "relative_path", ["../../etc/passwd", "/etc/passwd", "ab/../../outside", "", "tmp/x", "a\x00b"]
)
def test_names_outside_the_store_are_refused(backend: Backend, relative_path: str) -> None:
    with pytest.raises(AttachmentError, match="its stored path is not valid"):
        open_stored(relative_path, hashlib.sha256(b"secret").hexdigest())


@pytest.mark.parametrize(
    ("data", "limit"),
    [
        (b"MZ\x90\x00" + bytes(100), MIB),  # a Windows program
        (b"", MIB),
        (b"%PDF-" + bytes(100), 64),  # over the size limit
        (zip_bytes({"notes.txt": b"hello"}), MIB),  # a ZIP, not a Word document
        (docx_bytes({"word/media/big.bin": bytes(2 * MIB)}), 64 * KIB),  # a zip bomb
    ],
)
def test_a_refused_upload_leaves_nothing(backend: Backend, data: bytes, limit: int) -> None:
    with pytest.raises(AttachmentError):
        store([data], name="x.pdf", max_bytes=limit)

    assert backend.files() == {}
    assert backend.leftovers() == []


def test_a_failure_part_way_through_a_multipart_upload_leaves_no_object(
    s3_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = s3_backend
    assert backend.bucket is not None
    backend_storage = s3_storage()
    client = backend_storage.connection.meta.client
    real_upload_part = client.upload_part
    parts: list[int] = []

    def upload_part(**kwargs: Any) -> Any:
        parts.append(kwargs["PartNumber"])
        if len(parts) == 2:  # the first part is in; the connection drops on the second
            raise ClientError({"Error": {"Code": "InternalError"}}, "UploadPart")
        return real_upload_part(**kwargs)

    monkeypatch.setattr(client, "upload_part", upload_part)
    monkeypatch.setattr(backend_storage.transfer_config, "use_threads", False)

    with pytest.raises(AttachmentError) as refused:
        store(chunked(LARGE_PDF, 64 * KIB), name="scan.pdf")

    assert refused.value.reason == "storage_unavailable"
    assert "Nothing was stored" in str(refused.value)
    assert len(parts) >= 2
    assert backend.files() == {}
    assert backend.bucket.pending_uploads() == []  # the parts sent were thrown away
    assert backend.leftovers() == []

    monkeypatch.undo()
    stored = store(chunked(LARGE_PDF, 64 * KIB), name="scan.pdf")
    assert backend.files() == {stored.relative_path: LARGE_PDF}


def test_a_failed_single_upload_leaves_no_object(
    s3_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = s3_backend
    assert backend.bucket is not None
    client = s3_storage().connection.meta.client

    def refuse(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "SlowDown"}}, "PutObject")

    monkeypatch.setattr(client, "put_object", refuse)

    with pytest.raises(AttachmentError, match="the file store is not answering"):
        store([pdf_bytes()], name="report.pdf")
    assert backend.files() == {}
    assert backend.leftovers() == []


def test_a_bucket_that_does_not_answer_is_a_clear_refusal(
    settings: Settings, bucket: Bucket, tmp_path: Path
) -> None:
    settings.ATTACHMENTS_DIR = tmp_path / "attachments"
    use_s3(
        settings,
        bucket,
        endpoint_url="http://127.0.0.1:9",  # the discard port: nothing listens
        client_config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )

    with pytest.raises(AttachmentError) as refused:
        store([pdf_bytes()], name="report.pdf")
    assert refused.value.reason == "storage_unavailable"
    assert list((tmp_path / "attachments" / "tmp").iterdir()) == []

    with pytest.raises(AttachmentError, match="the file store is not answering"):
        open_stored("ab/cd/" + "ab" * 32, "ab" * 32)


def test_objects_are_encrypted_at_rest_by_the_service(s3_backend: Backend) -> None:
    backend = s3_backend
    assert backend.bucket is not None
    stored = store([pdf_bytes()], name="report.pdf")

    head = backend.bucket.head(stored.relative_path)
    assert head["ServerSideEncryption"] == "AES256"
    acl = backend.bucket.client.get_object_acl(Bucket=backend.bucket.name, Key=stored.relative_path)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]  # the owner only
    assert all(g["Grantee"].get("Type") == "CanonicalUser" for g in acl["Grants"])


def test_kms_encryption_is_passed_on(settings: Settings, bucket: Bucket, tmp_path: Path) -> None:
    settings.ATTACHMENTS_DIR = tmp_path / "attachments"
    use_s3(
        settings,
        bucket,
        object_parameters={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/cpnav-test"},
    )
    stored = store([pdf_bytes()], name="report.pdf")

    head = bucket.head(stored.relative_path)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith("cpnav-test")
    assert open_stored(stored.relative_path, stored.sha256).read() == pdf_bytes()


def test_stored_files_have_no_url(backend: Backend) -> None:
    stored = store([pdf_bytes()], name="report.pdf")
    with pytest.raises(ImproperlyConfigured, match="no URL"):
        storage.attachment_storage().url(stored.relative_path)


def test_a_package_is_stored_like_an_attachment(backend: Backend) -> None:
    from cpnav.cases.attachments import StoredFile

    one: StoredFile = store([pdf_bytes() + b"package"], name="CP-1-package.pdf")
    assert one.content_type == "application/pdf"
    assert backend.files() == {one.relative_path: pdf_bytes() + b"package"}


@pytest.fixture
def uploads_on(backend: Backend, route: Route) -> tuple[Backend, Route]:
    return backend, route


def test_upload_and_download_through_the_pages(uploads_on: tuple[Backend, Route]) -> None:
    backend, route = uploads_on
    client = signed_in(Client(), route.investigator)
    url = reverse("cases:attachment_upload", args=[route.cp.pk])
    data = pdf_bytes()

    page = client.post(url, {"file": SimpleUploadedFile("x.pdf", b"MZ" + bytes(100))})
    assert "Windows program" in page.content.decode()
    assert backend.files() == {}

    assert client.post(url, {"file": SimpleUploadedFile("statement.pdf", data)}).status_code == 302
    attachment = Attachment.objects.get()
    assert backend.files() == {attachment.relative_path: data}

    download = client.get(reverse("cases:attachment", args=[attachment.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == data  # type: ignore[attr-defined]
    assert download["Content-Disposition"].startswith('attachment; filename="statement.pdf"')
    outsider = signed_in(Client(), route.outsider)
    assert outsider.get(reverse("cases:attachment", args=[attachment.pk])).status_code == 404

    # Altered in storage: not served, answered like an unknown attachment.
    backend.alter(attachment.relative_path, data.replace(b"Catalog", b"Katalog"))
    assert client.get(reverse("cases:attachment", args=[attachment.pk])).status_code == 404
    downloads = AuditEvent.objects.filter(action="attachment.downloaded")
    assert downloads.count() == 1


def test_a_store_outage_on_upload_is_shown_and_audited(
    s3_backend: Backend, route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = s3_backend
    client = s3_storage().connection.meta.client

    def refuse(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "PutObject")

    monkeypatch.setattr(client, "put_object", refuse)
    signed = signed_in(Client(), route.investigator)
    page = signed.post(
        reverse("cases:attachment_upload", args=[route.cp.pk]),
        {"file": SimpleUploadedFile("statement.pdf", pdf_bytes()), "description": "kept text"},
    )

    assert page.status_code == 200
    text = page.content.decode()
    assert "the file store is not answering. Nothing was stored; try again later." in text
    assert "kept text" in text
    assert not Attachment.objects.exists()
    refused = AuditEvent.objects.get(action="attachment.refused")
    assert refused.outcome == Outcome.FAILURE
    assert refused.details == {"reason": "storage_unavailable"}
    assert backend.files() == {}
