"""`cpnav backup` and `cpnav restore` with attachments in a bucket, end to end.

Separate processes, as in tests/core/test_backup.py (whose instances these reuse),
talk to one S3 EMULATOR - moto's server on 127.0.0.1 in this test process, not
Amazon S3 - each instance with its own bucket: files come out of a bucket into the
archive, and go into an empty bucket (or folder) on restore, from an archive of
either kind of instance.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from pytest_django.fixtures import Settings

from cpnav.core import storage
from cpnav.core.backup.restore import _Staging
from tests.core.test_backup import POPULATE, Instance, Instances
from tests.storage.conftest import DUMMY_CREDENTIALS, REGION, Bucket, new_bucket, use_s3

pytestmark = pytest.mark.skipif(
    "postgresql" in django_settings.DATABASES["default"]["ENGINE"],
    reason="the round trips here use SQLite instances; tests/core/test_backup.py covers PostgreSQL",
)


@dataclass
class Place:
    """An instance and where its files are: its folder, or its bucket."""

    instance: Instance
    bucket: Bucket | None

    def files(self) -> dict[str, bytes]:
        return self.bucket.objects() if self.bucket is not None else self.instance.files()


class Places:
    def __init__(self, base: Path, endpoint: str) -> None:
        self.instances = Instances(base)
        self.endpoint = endpoint

    def new(self, name: str, *, s3: bool) -> Place:
        instance = self.instances.new("sqlite", name)
        if not s3:
            return Place(instance, None)
        bucket = new_bucket(self.endpoint)
        instance.env.update(
            CPNAV_ATTACHMENTS_STORAGE="s3",
            CPNAV_S3_BUCKET=bucket.name,
            CPNAV_S3_ENDPOINT_URL=self.endpoint,
            CPNAV_S3_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
            **DUMMY_CREDENTIALS,
        )
        return Place(instance, bucket)


@dataclass
class Source:
    place: Place
    archive: Path
    rows: dict[str, list[tuple[Any, ...]]]
    files: dict[str, bytes]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[Places]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in DUMMY_CREDENTIALS.items():
            patch.setenv(name, value)
        yield Places(tmp_path_factory.mktemp("storage-backup"), s3_endpoint)


@pytest.fixture(scope="module")
def source(places: Places) -> Callable[[bool], Source]:
    """A migrated instance with the demo data and four stored files, backed up once."""
    made: dict[bool, Source] = {}

    def make(s3: bool) -> Source:
        if s3 not in made:
            place = places.new(f"source_{'s3' if s3 else 'folder'}", s3=s3)
            place.instance.run("migrate", "--no-input", "-v0")
            place.instance.run("demo")
            place.instance.python(POPULATE)
            rows, files = place.instance.tables(), place.files()
            archive = place.instance.home / "source.cpnav-backup"
            done = place.instance.run("backup", "--out", str(archive))
            assert "4 files" in done.stdout, done.stdout
            made[s3] = Source(place, archive, rows, files)
        return made[s3]

    return make


def _assert_restored(source: Source, target: Place) -> None:
    done = target.instance.run("restore", str(source.archive))
    assert "restored" in done.stdout
    restored = target.instance.tables()
    for name, rows in source.rows.items():
        if name not in ("audit_auditevent", "audit_chainhead"):
            assert restored[name] == rows, name
    assert len(restored["audit_auditevent"]) == len(source.rows["audit_auditevent"]) + 1
    assert len(source.files) == 4
    assert target.files() == source.files
    for name, data in source.files.items():
        assert name.endswith(hashlib.sha256(data).hexdigest())
    if target.bucket is not None:  # staged one by one, nothing is left on local disk
        assert target.instance.files() == {}
    assert "chain intact" in target.instance.run("audit", "verify").stdout


def test_a_bucket_backup_restores_into_an_empty_bucket(
    source: Callable[[bool], Source], places: Places
) -> None:
    made = source(True)
    assert made.place.instance.files() == {}  # the source kept its files in the bucket only
    _assert_restored(made, places.new("bucket_to_bucket", s3=True))


def test_a_folder_backup_restores_into_a_bucket(
    source: Callable[[bool], Source], places: Places
) -> None:
    _assert_restored(source(False), places.new("folder_to_bucket", s3=True))


def test_a_bucket_backup_restores_into_a_folder(
    source: Callable[[bool], Source], places: Places
) -> None:
    _assert_restored(source(True), places.new("bucket_to_folder", s3=False))


def test_restore_refuses_a_bucket_that_is_not_empty(
    source: Callable[[bool], Source], places: Places
) -> None:
    made = source(True)
    target = places.new("full_bucket", s3=True)
    assert target.bucket is not None
    target.bucket.put("notes/left-over.txt", b"synthetic")

    done = target.instance.run("restore", str(made.archive), ok=False)

    assert done.returncode != 0
    assert f"the attachments bucket s3://{target.bucket.name} already holds files" in (
        done.stderr + done.stdout
    )
    assert target.bucket.objects() == {"notes/left-over.txt": b"synthetic"}
    assert [n for n in target.instance.table_names() if n != "sqlite_sequence"] == []


def test_a_failed_restore_removes_what_it_uploaded(
    settings: Settings, bucket: Bucket, tmp_path: Path
) -> None:
    """The rows roll back with the transaction; the objects are deleted by hand."""
    settings.ATTACHMENTS_DIR = tmp_path / "attachments"
    use_s3(settings, bucket)
    staged = tmp_path / "staged"
    staging = _Staging(storage.attachment_storage(), staged)
    for index in range(3):
        data = f"synthetic file {index}".encode()
        sha = hashlib.sha256(data).hexdigest()
        name = f"{sha[:2]}/{sha[2:4]}/{sha}"
        assert staging.write(name, io.BytesIO(data)) == sha
        staging.checked(name)
        assert not (staged / name).exists()  # uploaded, and gone from local disk
    assert len(bucket.objects()) == 3

    staging.move_in()  # nothing to move for a bucket
    staging.undo()

    assert bucket.objects() == {}
