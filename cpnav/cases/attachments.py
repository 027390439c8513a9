"""Attachments: accept only what the content says it is, store it by hash.

Case files hold criminal-justice information, so an upload is judged by its bytes,
never by its name or the browser's content type: a program renamed `report.pdf`
is still a program. Accepted files are written to a local temporary file, checked,
and only then kept under a content-addressed name - renamed into place in a folder,
or uploaded to a bucket (cpnav.core.storage) - so a reader never sees half a file
and the same evidence uploaded twice is stored once. Every read checks the SHA-256
again, wherever the file is kept.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import logging
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn
from uuid import UUID

from django.conf import settings
from django.core.files.storage import Storage
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from cpnav.core import malware, storage

log = logging.getLogger("cpnav.attachments")

KIB = 1024
MIB = 1024 * KIB
# Enough to tell every type below apart, including an SVG's root element after an XML prolog.
HEAD_BYTES = 4 * KIB
# A real DOCX unpacks to a few times its size and holds tens of parts; these leave wide
# room for image-heavy documents while refusing archives built to exhaust whoever unpacks them.
ZIP_EXPANSION_FACTOR = 20
ZIP_MAX_UNPACKED = 200 * MIB
ZIP_MAX_ENTRIES = 2_000
NAME_MAX_CHARS = 200
FALLBACK_NAME = "attachment"
UPLOAD_REFUSED_ATTR = "upload_refused"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
# The only names store() gives; a bucket is asked for nothing else.
_STORED_NAME_RE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}")
# Zero-width (non-)joiners are format characters that Persian and Indic names need;
# every other format character (bidi overrides that turn "exe.pdf" into "fdp.exe") goes.
_KEPT_FORMAT_CHARS = frozenset("\u200c\u200d")


class AttachmentError(ValueError):
    """A refusal whose message can be shown to the user as it is; ``reason`` names the
    kind for the audit trail (the message may carry the file's name, the reason never)."""

    def __init__(self, message: str, reason: str = "content") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Kind:
    content_type: str
    extension: str
    label: str


PDF = Kind("application/pdf", ".pdf", "PDF")
PNG = Kind("image/png", ".png", "PNG image")
JPEG = Kind("image/jpeg", ".jpg", "JPEG image")
GIF = Kind("image/gif", ".gif", "GIF image")
WEBP = Kind("image/webp", ".webp", "WebP image")
DOCX = Kind(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".docx",
    "Word document",
)


@dataclass(frozen=True, slots=True)
class StoredFile:
    relative_path: str
    sha256: str
    size: int
    content_type: str
    original_name: str


# Ordered so that longer, more specific signatures win over shorter ones.
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", gettext_noop("an old-format or password-protected Office file (.doc, .xls, .ppt)")),
    (b"L\x00\x00\x00\x01\x14\x02\x00", gettext_noop("a Windows shortcut (.lnk)")),
    (b"Rar!\x1a\x07", gettext_noop("a RAR archive (.rar)")),
    (b"7z\xbc\xaf\x27\x1c", gettext_noop("a 7-Zip archive (.7z)")),
    (b"\x7fELF", gettext_noop("a Linux program (ELF)")),
    (b"\xfe\xed\xfa\xce", gettext_noop("a Mac program (Mach-O)")),
    (b"\xfe\xed\xfa\xcf", gettext_noop("a Mac program (Mach-O)")),
    (b"\xce\xfa\xed\xfe", gettext_noop("a Mac program (Mach-O)")),
    (b"\xcf\xfa\xed\xfe", gettext_noop("a Mac program (Mach-O)")),
    # Universal Mach-O binaries and Java classes share this magic; both are programs.
    (b"\xca\xfe\xba\xbe", gettext_noop("a Mac or Java program")),
    (b"PK\x05\x06", gettext_noop("a ZIP archive (.zip)")),
    (b"PK\x07\x08", gettext_noop("a ZIP archive (.zip)")),
    (b"{\\rtf", gettext_noop("a Rich Text document (.rtf)")),
    (b"\x1f\x8b", gettext_noop("a compressed archive (.gz)")),
    (b"MZ", gettext_noop("a Windows program (.exe)")),
    (b"#!", gettext_noop("a shell script (#!)")),
)  # fmt: skip
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe")


def sniff(head: bytes, name: str) -> Kind:
    """The accepted kind that `head` (the file's first bytes) shows, or AttachmentError.

    A ZIP can only be called a DOCX candidate from its first bytes; `store` opens
    the whole file to confirm the Word parts are there before accepting it.
    """
    if not head:
        raise AttachmentError(_("%(name)s is empty.") % {"name": clean_name(name)})
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"PK\x03\x04"):
        return DOCX
    raise _refused(name, _describe_refused(head))


def _describe_refused(head: bytes) -> str | None:
    for signature, label in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return _(label)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith(b"<"):
        # An SVG or HTML file runs script in the browser that opens it; an XML
        # prolog only delays the root element, so look past it.
        if b"<svg" in text:
            return _("an SVG drawing (.svg), which can run scripts")
        if any(marker in text for marker in _HTML_MARKERS):
            return _("a web page (HTML)")
        return _("an XML or web document")
    return None


def _refused(name: str, what: str | None) -> AttachmentError:
    values = {"name": clean_name(name), "what": what}
    if what is None:
        return AttachmentError(
            _("%(name)s is not a PDF, image or Word document, and its type is not one we know.")
            % values
        )
    return AttachmentError(
        _("%(name)s is not a PDF, image or Word document: it looks like %(what)s.") % values
    )


def _human_size(size: int) -> str:
    if size >= MIB:
        return f"{size / MIB:.1f}".removesuffix(".0") + " MB"
    if size >= KIB:
        return f"{size / KIB:.1f}".removesuffix(".0") + " KB"
    return f"{size} bytes"


def _too_large(name: str, limit: int, size: int | None = None) -> str:
    values = {"name": clean_name(name), "limit": _human_size(limit)}
    if size is None:
        # Reading stops at the limit, so the true size is usually unknown.
        return _("%(name)s is larger than the %(limit)s limit.") % values
    return _("%(name)s is %(size)s; the limit is %(limit)s.") % {
        **values,
        "size": _human_size(size),
    }


def clean_name(name: str) -> str:
    """A display name safe to show and to offer as a download name."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch
        for ch in name
        if not unicodedata.category(ch).startswith(("C", "Zl", "Zp")) or ch in _KEPT_FORMAT_CHARS
    )
    # Leading dots hide files and trailing dots or spaces are dropped by Windows.
    name = name.strip(" .")
    if len(name) > NAME_MAX_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: NAME_MAX_CHARS - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:NAME_MAX_CHARS].rstrip(" .")
    return name or FALLBACK_NAME


def _check_docx(path: Path, name: str, limit: int) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, EOFError):
        raise _refused(name, _("a damaged ZIP archive")) from None
    # The declared sizes are what matter: nothing here unpacks the entries, and
    # Python's zipfile stops reading an entry at its declared size.
    unpacked = sum(entry.file_size for entry in entries)
    if len(entries) > ZIP_MAX_ENTRIES or unpacked > min(
        ZIP_EXPANSION_FACTOR * limit, ZIP_MAX_UNPACKED
    ):
        raise AttachmentError(
            _(
                "%(name)s was refused: it unpacks to %(size)s in %(count)d parts, far more "
                "than a Word document holds (a possible zip bomb)."
            )
            % {"name": clean_name(name), "size": _human_size(unpacked), "count": len(entries)}
        )
    names = {entry.filename for entry in entries}
    if not {"[Content_Types].xml", "word/document.xml"} <= names:
        raise _refused(name, _("a ZIP archive (.zip)"))
    if any(entry.lower().endswith("vbaproject.bin") for entry in names):
        raise _refused(name, _("a Word document with macros (.docm)"))


def _raise_if_disk_full(error: OSError) -> None:
    # A full disk or quota is the user's to retry later; any other OSError is ours to fix.
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        raise AttachmentError(
            _(
                "The file could not be saved: the disk is full. Nothing was stored; try again later."
            ),
            reason="disk_full",
        ) from error


def _fsync_dir(path: Path) -> None:
    # The rename is only durable once the directory entry itself reaches the disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _storage_unavailable(error: Exception, doing: str) -> AttachmentError:
    # The operator needs the backend's words; the user needs to know nothing was kept.
    log.error("attachment storage failed while %s: %s", doing, error)
    return AttachmentError(
        _(
            "The file could not be saved: the file store is not answering. Nothing was "
            "stored; try again later."
        ),
        reason="storage_unavailable",
    )


def store(chunks: Iterable[bytes], *, name: str, max_bytes: int | None = None) -> StoredFile:
    """Check and store an upload, returning where it lives; AttachmentError if refused."""
    limit = settings.ATTACHMENT_MAX_BYTES if max_bytes is None else max_bytes
    backend = storage.attachment_storage()
    tmp_dir = storage.staging_dir(backend)
    try:
        tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file 0600, and the rename keeps that mode.
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
    except OSError as error:
        _raise_if_disk_full(error)
        raise
    tmp_path = Path(tmp_name)
    try:
        stored = _write_checked(fd, tmp_path, chunks, name, limit)
        root = storage.local_root(backend)
        if root is None:
            _keep_remote(backend, tmp_path, stored)
        else:
            _keep_local(root, tmp_path, stored)
    except OSError as error:
        tmp_path.unlink(missing_ok=True)
        _raise_if_disk_full(error)
        raise
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return stored


def _keep_local(root: Path, tmp_path: Path, stored: StoredFile) -> None:
    final = root / stored.relative_path
    final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Same hash means same content; a copy of another size was altered on disk, so heal it.
    if final.is_file() and final.stat().st_size == stored.size:
        tmp_path.unlink()
    else:
        os.replace(tmp_path, final)
        _fsync_dir(final.parent)


def _keep_remote(backend: Storage, tmp_path: Path, stored: StoredFile) -> None:
    """Upload the checked file to its final name: S3 shows an object only once it is
    whole (a failed multipart upload is aborted and leaves none), so no temporary
    key is needed; the same content already there is not sent again."""
    try:
        if storage.stored_size(backend, stored.relative_path) != stored.size:
            storage.upload(backend, stored.relative_path, tmp_path)
    except storage.REMOTE_ERRORS as error:
        raise _storage_unavailable(error, "storing an upload") from error
    tmp_path.unlink()


def _write_checked(
    fd: int, tmp_path: Path, chunks: Iterable[bytes], name: str, limit: int
) -> StoredFile:
    digest = hashlib.sha256()
    size = 0
    head = b""
    kind: Kind | None = None
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise AttachmentError(_too_large(name, limit), reason="too_large")
            if kind is None:
                head += chunk[: HEAD_BYTES - len(head)]
                # Refuse a program on its first chunk rather than after the whole upload.
                if len(head) >= HEAD_BYTES:
                    kind = sniff(head, name)
            digest.update(chunk)
            out.write(chunk)
        if kind is None:
            kind = sniff(head, name)
        out.flush()
        os.fsync(out.fileno())
    if kind is DOCX:
        _check_docx(tmp_path, name, limit)
    _check_malware(tmp_path, name)
    sha = digest.hexdigest()
    return StoredFile(
        relative_path=f"{sha[:2]}/{sha[2:4]}/{sha}",
        sha256=sha,
        size=size,
        content_type=kind.content_type,
        original_name=clean_name(name),
    )


def _check_malware(path: Path, name: str) -> None:
    if not malware.enabled():
        return
    try:
        found = malware.scan(path)
    except malware.ScanUnavailable as failure:
        log.error("upload not kept: the malware scanner gave no verdict (%s)", failure)
        raise AttachmentError(
            _(
                "%(name)s could not be checked for malware just now, so it was not kept. "
                "Try again in a few minutes; if this keeps happening, tell your administrator."
            )
            % {"name": clean_name(name)},
            reason="scanner_unavailable",
        ) from None
    if found is not None:
        # An incident to look into (CJIS incident response): who and when are in the audit.
        log.warning("upload refused: the malware scanner found %s", found)
        raise AttachmentError(
            _("%(name)s was refused: the malware scanner found %(found)s in it.")
            % {"name": clean_name(name), "found": found},
            reason="malware",
        )


def open_stored(relative_path: str, sha256: str) -> BinaryIO:
    """The stored file, opened at its start, once its content matches `sha256`."""
    invalid = AttachmentError(
        _("The attachment could not be opened: its stored path is not valid.")
    )
    if "\x00" in relative_path or not _SHA256_RE.fullmatch(sha256):
        raise invalid
    backend = storage.attachment_storage()
    root = storage.local_root(backend)
    if root is None:
        if not _STORED_NAME_RE.fullmatch(relative_path):
            raise invalid
        return _open_remote(backend, relative_path, sha256)
    root = root.resolve()
    # resolve() follows symlinks too, so a link inside the folder cannot point out of it.
    path = (root / relative_path).resolve()
    if path == root or not path.is_relative_to(root) or path.is_relative_to(root / "tmp"):
        raise invalid
    try:
        handle = path.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        raise _missing() from None
    try:
        _check_digest(handle, sha256)
    except BaseException:
        handle.close()
        raise
    return handle


def _missing() -> AttachmentError:
    return AttachmentError(_("The attachment could not be opened: the stored file is missing."))


def _check_digest(handle: BinaryIO, sha256: str) -> None:
    digest = hashlib.sha256()
    while block := handle.read(MIB):
        digest.update(block)
    if not hmac.compare_digest(digest.hexdigest(), sha256):
        raise AttachmentError(_("The attachment could not be opened: the stored file is damaged."))
    handle.seek(0)


def _open_remote(backend: Storage, relative_path: str, sha256: str) -> BinaryIO:
    """Copy the object to an unnamed local file, check it, and serve that copy: the
    bytes sent are the bytes checked, whatever happens to the object meanwhile."""
    copy = tempfile.TemporaryFile(dir=_tmp_dir(backend))  # noqa: SIM115 (closed by the caller or below)
    try:
        try:
            with storage.open_stream(backend, relative_path) as remote:
                while block := remote.read(MIB):
                    copy.write(block)
        except FileNotFoundError:
            raise _missing() from None
        except storage.REMOTE_ERRORS as error:
            log.error("attachment storage failed while reading a file: %s", error)
            raise AttachmentError(
                _("The attachment could not be opened: the file store is not answering."),
                reason="storage_unavailable",
            ) from error
        copy.flush()
        copy.seek(0)
        _check_digest(copy, sha256)
    except BaseException:
        copy.close()
        raise
    return copy


def _tmp_dir(backend: Storage) -> Path:
    tmp_dir = storage.staging_dir(backend)
    tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return tmp_dir


def upload_refusal(request: HttpRequest) -> str | None:
    """The message LimitedUploadHandler left on the request, if it stopped an upload."""
    message = getattr(request, UPLOAD_REFUSED_ATTR, None)
    return message if isinstance(message, str) else None


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Stops an upload as soon as a file passes ATTACHMENT_MAX_BYTES.

    Without it Django writes the whole body to disk before any view can look at
    the size. Install it before request.POST or request.FILES is first read (CSRF
    middleware reads POST, so the view must be csrf_exempt and call csrf_protect
    itself), then show `upload_refusal(request)` when it is set.
    """

    def new_file(
        self,
        field_name: str,
        file_name: str,
        content_type: str,
        content_length: int | None,
        charset: str | None = None,
        content_type_extra: dict[str, bytes] | None = None,
    ) -> None:
        super().new_file(
            field_name, file_name, content_type, content_length, charset, content_type_extra
        )
        self._limit: int = settings.ATTACHMENT_MAX_BYTES
        self._received = 0
        # Browsers rarely send a per-file length, but when one does, refuse before reading.
        if content_length is not None and content_length > self._limit:
            self._refuse(content_length)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._received += len(raw_data)
        if self._received > self._limit:
            self._refuse(None)
        return super().receive_data_chunk(raw_data, start)

    def _refuse(self, size: int | None) -> NoReturn:
        message = _too_large(self.file_name or FALLBACK_NAME, self._limit, size)
        if self.request is not None:
            setattr(self.request, UPLOAD_REFUSED_ATTR, message)
        # On StopUpload the parser only closes the current file; remove the partial one now.
        self.upload_interrupted()
        # False: read and discard the rest of the body so the browser gets our page,
        # not a reset connection.
        raise StopUpload(connection_reset=False)


def serve(
    request: HttpRequest,
    *,
    relative_path: str,
    sha256: str,
    filename: str,
    content_type: str,
    object_type: str,
    object_id: UUID,
    agency_id: UUID | None,
) -> FileResponse:
    """Send a stored file the caller has already checked access to, and audit it.

    A missing or damaged file is answered like an unknown one (404), so a
    checksum failure never serves altered bytes.
    """
    from cpnav.accounts.access import not_found
    from cpnav.audit.services import record

    try:
        handle = open_stored(relative_path, sha256)
    except AttachmentError:
        raise not_found(request, object_type, object_id) from None
    record(
        f"{object_type}.downloaded",
        request=request,
        object_type=object_type,
        object_id=object_id,
        agency_id=agency_id,
    )
    response = FileResponse(
        handle, content_type=content_type, as_attachment=True, filename=filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
