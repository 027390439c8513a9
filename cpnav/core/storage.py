"""Where stored files live: a folder (local or shared by every app server) or a bucket.

``settings.STORAGES["attachments"]`` names the backend (ADR 0022). Case attachments
and generated packages are content-addressed (``aa/bb/<sha256>``), written once and
never changed, so any store that makes a whole object appear at once will do: a
folder, where a rename is atomic, or S3 and S3-compatible services, where an upload
(multipart or not) becomes visible only when it is complete.

Files are never handed out by URL: cpnav streams each one through its own
access-checked view after checking its SHA-256, so the bucket stays private and
``url()`` refuses. The helpers below are the few operations cpnav needs, each kept
to what both backends do well (one listing request per thousand objects, one GET
per file) rather than the generic ``Storage`` calls that would walk ``listdir``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from storages.backends.s3 import S3Storage

ATTACHMENTS = "attachments"
TMP = "tmp"
READ_BYTES = 1024 * 1024

# What a bucket (or the network to it) raises: no answer, refused credentials, throttling.
REMOTE_ERRORS: tuple[type[Exception], ...] = (BotoCoreError, ClientError)


class LocalAttachmentStorage(FileSystemStorage):
    """A folder: ``location`` when given (each server's view of a shared mount), else
    ATTACHMENTS_DIR as it is at each use, so a test or a restore that points the
    setting elsewhere is followed (FileSystemStorage would keep the first value)."""

    def __init__(self, location: str | Path | None = None, **options: Any) -> None:
        self._fixed = None if location is None else Path(location)
        super().__init__(location=location, **options)

    @property  # read at each use, unlike FileSystemStorage's cached property
    def base_location(self) -> str:
        return str(self._fixed or settings.ATTACHMENTS_DIR)

    @property  # read at each use, unlike FileSystemStorage's cached property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ImproperlyConfigured("stored attachments have no URL; serve them through cpnav")


class S3AttachmentStorage(S3Storage):  # type: ignore[misc]  # django-storages is untyped
    """A private bucket of S3 or an S3-compatible service.

    Names are content hashes, so an upload to an existing name is the same bytes
    (file_overwrite, no renaming); no ACL is sent (the bucket's owner-only default
    applies, and buckets with ACLs disabled refuse one); no URL is ever made.
    Credentials come from boto3's usual chain: environment, profile, instance role.
    """

    def get_default_settings(self) -> dict[str, Any]:
        defaults: dict[str, Any] = super().get_default_settings()
        defaults.update(file_overwrite=True, default_acl=None, querystring_auth=True, gzip=False)
        return defaults

    def url(self, name: str, *args: Any, **kwargs: Any) -> str:
        raise ImproperlyConfigured("stored attachments have no URL; serve them through cpnav")


def attachment_storage() -> Storage:
    return storages[ATTACHMENTS]


def local_root(storage: Storage) -> Path | None:
    """The folder a filesystem backend keeps files in; None for a bucket."""
    if isinstance(storage, FileSystemStorage):
        return Path(storage.location)
    return None


def staging_dir(storage: Storage) -> Path:
    """Where an upload is written and checked before it is kept: always local disk.

    For a folder, inside it, so the final rename never crosses file systems; for a
    bucket, under ATTACHMENTS_DIR, which then holds nothing else.
    """
    root = local_root(storage)
    return (root if root is not None else Path(settings.ATTACHMENTS_DIR)) / TMP


def _key(storage: S3AttachmentStorage, name: str) -> str:
    key: str = storage._normalize_name(name)
    return key


def _not_found(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or error.response.get("Error", {}).get("Code") in {
        "404",
        "NoSuchKey",
        "NotFound",
    }


def stored_size(storage: Storage, name: str) -> int | None:
    """The size of the stored file ``name``, or None when there is none."""
    if isinstance(storage, S3AttachmentStorage):
        client = storage.connection.meta.client
        try:
            head = client.head_object(Bucket=storage.bucket_name, Key=_key(storage, name))
        except ClientError as error:
            if _not_found(error):
                return None
            raise
        return int(head["ContentLength"])
    try:
        return storage.size(name)
    except FileNotFoundError:
        return None


def upload(storage: Storage, name: str, path: Path) -> None:
    """Copy the checked local file ``path`` to ``name`` in one step readers cannot see half of."""
    with path.open("rb") as handle:
        saved = storage.save(name, File(handle, name=name))
    if saved != name:  # a backend that renames would break the content addressing
        raise ImproperlyConfigured(f"the attachments storage saved {name} as {saved}")


def open_stream(storage: Storage, name: str) -> IO[bytes]:
    """The stored file as a stream read once from its start; FileNotFoundError if absent.

    For a bucket this is one GET whose body is read as it arrives, rather than
    django-storages' S3File, which first copies the whole object to a temporary file.
    """
    if isinstance(storage, S3AttachmentStorage):
        client = storage.connection.meta.client
        try:
            response = client.get_object(Bucket=storage.bucket_name, Key=_key(storage, name))
        except ClientError as error:
            if _not_found(error):
                raise FileNotFoundError(name) from None
            raise
        body: IO[bytes] = response["Body"]
        return body
    handle: IO[bytes] = storage.open(name, "rb")
    return handle


def remove(storage: Storage, name: str) -> None:
    storage.delete(name)


def listing(storage: Storage) -> Iterator[tuple[str, int]]:
    """Every stored file as (name, size), in name order, the local staging folder excepted."""
    if isinstance(storage, S3AttachmentStorage):
        prefix = _key(storage, "") if storage.location else ""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        paginator = storage.connection.meta.client.get_paginator("list_objects_v2")
        # S3 lists keys in UTF-8 byte order, which for these ASCII names is name order.
        for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=prefix):
            for entry in page.get("Contents", ()):
                name = str(entry["Key"])[len(prefix) :]
                if name and not name.endswith("/"):
                    yield name, int(entry["Size"])
        return
    root = local_root(storage)
    if root is None:
        raise ImproperlyConfigured(f"unsupported attachments storage {type(storage).__name__}")
    for name, path in local_files(root):
        yield name, path.stat().st_size


def local_files(root: Path) -> Iterator[tuple[str, Path]]:
    """Every regular file under ``root`` (tmp/ and symbolic links excepted), in name order."""
    if not root.is_dir():
        return
    found: list[tuple[str, Path]] = []
    for directory, subdirs, names in os.walk(root):
        here = Path(directory)
        if here == root:
            subdirs[:] = [d for d in subdirs if d != TMP]
        for name in names:
            path = here / name
            if path.is_file() and not path.is_symlink():
                found.append((path.relative_to(root).as_posix(), path))
    yield from sorted(found)


def is_empty(storage: Storage) -> bool:
    return next(iter(listing(storage)), None) is None


def describe(storage: Storage) -> str:
    """Where files go, for messages to the operator (no credentials in it)."""
    root = local_root(storage)
    if root is not None:
        return f"the attachments folder {root}"
    if isinstance(storage, S3AttachmentStorage):
        where = f"s3://{storage.bucket_name}/{storage.location}".rstrip("/")
        return f"the attachments bucket {where}"
    return f"the attachments storage {type(storage).__name__}"
