"""Attachments are judged by content, stored once by hash, and never half-written."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.files.uploadhandler import StopUpload
from django.http import HttpRequest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pytest_django.fixtures import Settings

from cpnav.cases.attachments import (
    AttachmentError,
    LimitedUploadHandler,
    clean_name,
    open_stored,
    sniff,
    store,
    upload_refusal,
)

KIB = 1024
MIB = 1024 * KIB
DISK_FULL = "The file could not be saved: the disk is full. Nothing was stored; try again later."


@pytest.fixture
def root(settings: Settings, tmp_path: Path) -> Path:
    settings.ATTACHMENTS_DIR = tmp_path / "attachments"
    settings.ATTACHMENT_MAX_BYTES = 20 * MIB
    return tmp_path / "attachments"


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def chunked(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def png_bytes() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, one red pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
        b"trailer <</Root 1 0 R>>\n%%EOF\n"
    )


def jpeg_bytes() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def gif_bytes() -> bytes:
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
        b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def webp_bytes() -> bytes:
    body = b"WEBP" + b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def zip_bytes(entries: dict[str, bytes], level: int = 6) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def docx_bytes(extra: dict[str, bytes] | None = None) -> bytes:
    parts = {
        "[Content_Types].xml": (
            b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            b'2006/content-types"><Override PartName="/word/document.xml" ContentType="'
            b'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"'
            b"/></Types>"
        ),
        "word/document.xml": (
            b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            b'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Statement</w:t></w:r></w:p>'
            b"</w:body></w:document>"
        ),
    }
    return zip_bytes({**parts, **(extra or {})})


ALLOWED: list[tuple[Callable[[], bytes], str]] = [
    (pdf_bytes, "application/pdf"),
    (png_bytes, "image/png"),
    (jpeg_bytes, "image/jpeg"),
    (gif_bytes, "image/gif"),
    (webp_bytes, "image/webp"),
    (docx_bytes, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
]


@pytest.mark.parametrize(("make", "content_type"), ALLOWED)
def test_each_allowed_type_is_stored_by_content(
    root: Path, make: Callable[[], bytes], content_type: str
) -> None:
    data = make()
    # The name says nothing true about the content; only the bytes decide.
    result = store(chunked(data, 7), name="scan.bin")

    sha = hashlib.sha256(data).hexdigest()
    assert result.content_type == content_type
    assert result.sha256 == sha
    assert result.size == len(data)
    assert result.relative_path == f"{sha[:2]}/{sha[2:4]}/{sha}"
    assert result.original_name == "scan.bin"
    assert (root / result.relative_path).read_bytes() == data
    assert stored_files(root) == [root / result.relative_path]
    assert sniff(data, "scan.bin").content_type == content_type


DANGEROUS: list[tuple[bytes, str]] = [
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(64), "a Windows program (.exe)"),
    (b"\x7fELF\x02\x01\x01" + bytes(64), "a Linux program (ELF)"),
    (b"#!/bin/sh\nrm -rf /\n", "a shell script (#!)"),
    (b"\xef\xbb\xbf  <!DOCTYPE html><html><script>alert(1)</script>", "a web page (HTML)"),
    (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "an SVG drawing (.svg)",
    ),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "(.doc, .xls, .ppt)"),
    (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(64), "a Mac program (Mach-O)"),
    (zip_bytes({"notes.txt": b"not a document"}), "a ZIP archive (.zip)"),
    (b"PK\x03\x04" + b"truncated garbage" * 10, "a damaged ZIP archive"),
    (docx_bytes({"word/vbaProject.bin": b"macro"}), "a Word document with macros (.docm)"),
]


@pytest.mark.parametrize(("data", "what"), DANGEROUS)
def test_dangerous_types_are_refused_by_name(root: Path, data: bytes, what: str) -> None:
    with pytest.raises(AttachmentError) as refused:
        store(chunked(data), name="report.pdf")

    message = str(refused.value)
    assert message.startswith("report.pdf is not a PDF, image or Word document: it looks like ")
    assert what in message
    assert stored_files(root) == []


def test_a_program_renamed_pdf_is_refused(root: Path) -> None:
    with pytest.raises(AttachmentError) as refused:
        store([b"MZ" + bytes(500)], name="report.pdf")

    assert str(refused.value) == (
        "report.pdf is not a PDF, image or Word document: it looks like a Windows program (.exe)."
    )
    assert stored_files(root) == []


def test_a_program_is_refused_on_its_first_chunk(root: Path) -> None:
    consumed = 0

    def upload() -> Iterator[bytes]:
        nonlocal consumed
        for _ in range(100):
            consumed += 1
            yield b"MZ" + bytes(64 * KIB - 2)

    with pytest.raises(AttachmentError, match="Windows program"):
        store(upload(), name="setup.pdf")

    assert consumed == 1
    assert stored_files(root) == []


def test_an_unknown_type_is_refused(root: Path) -> None:
    with pytest.raises(AttachmentError, match=r"^notes\.txt is not a PDF.*not one we know\.$"):
        store([b"just some text"], name="notes.txt")


@pytest.mark.parametrize("chunks", [[], [b""], [b"", b""]])
def test_an_empty_file_is_refused(root: Path, chunks: list[bytes]) -> None:
    with pytest.raises(AttachmentError) as refused:
        store(chunks, name="blank.pdf")

    assert str(refused.value) == "blank.pdf is empty."
    assert stored_files(root) == []


def test_an_oversized_file_is_refused_before_it_is_all_read(root: Path) -> None:
    consumed = 0

    def upload() -> Iterator[bytes]:
        nonlocal consumed
        yield b"%PDF-1.7\n"
        for _ in range(1000):
            consumed += 1
            yield bytes(KIB)

    with pytest.raises(AttachmentError) as refused:
        store(upload(), name="report.pdf", max_bytes=10 * KIB)

    assert str(refused.value) == "report.pdf is larger than the 10 KB limit."
    assert consumed <= 11
    assert stored_files(root) == []


def test_the_limit_comes_from_settings_and_is_inclusive(root: Path, settings: Settings) -> None:
    settings.ATTACHMENT_MAX_BYTES = 4 * KIB
    exactly = b"%PDF-1.7\n" + bytes(4 * KIB - 9)

    assert store(chunked(exactly), name="a.pdf").size == 4 * KIB
    with pytest.raises(AttachmentError, match="larger than the 4 KB limit"):
        store(chunked(exactly + b"!"), name="b.pdf")
    assert len(stored_files(root)) == 1


def test_a_zip_bomb_is_refused(root: Path) -> None:
    # 2 MiB of zeros packs into a few KiB; with a 64 KiB limit the ceiling is 1.25 MiB.
    bomb = docx_bytes({"word/media/image1.png": bytes(2 * MIB)})
    assert len(bomb) < 64 * KIB

    with pytest.raises(AttachmentError) as refused:
        store(chunked(bomb), name="statement.docx", max_bytes=64 * KIB)

    assert "zip bomb" in str(refused.value)
    assert str(refused.value).startswith("statement.docx was refused: it unpacks to 2 MB")
    assert stored_files(root) == []


def test_a_zip_bomb_is_refused_under_the_absolute_ceiling(root: Path) -> None:
    # With the 20 MiB default, 20x would allow 400 MiB; the 200 MiB ceiling applies first.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", b"<w:document/>")
        with archive.open("word/media/big.bin", "w", force_zip64=True) as entry:
            for _ in range(201):
                entry.write(bytes(MIB))

    with pytest.raises(AttachmentError, match="zip bomb"):
        store(chunked(buffer.getvalue(), 64 * KIB), name="statement.docx")
    assert stored_files(root) == []


def test_a_zip_with_too_many_parts_is_refused(root: Path) -> None:
    many = docx_bytes({f"word/media/{n}.txt": b"" for n in range(2_000)})

    with pytest.raises(AttachmentError, match=r"in 2002 parts.*zip bomb"):
        store(chunked(many, 64 * KIB), name="statement.docx")


def test_the_same_content_is_stored_once(root: Path) -> None:
    data = pdf_bytes()
    first = store([data], name="first.pdf")
    second = store(chunked(data, 3), name="second.pdf")

    assert first.relative_path == second.relative_path
    assert (first.original_name, second.original_name) == ("first.pdf", "second.pdf")
    assert stored_files(root) == [root / first.relative_path]


def test_storing_again_heals_a_truncated_copy(root: Path) -> None:
    data = pdf_bytes()
    first = store([data], name="a.pdf")
    (root / first.relative_path).write_bytes(data[:10])

    store([data], name="a.pdf")

    assert open_stored(first.relative_path, first.sha256).read() == data


def test_the_temp_folder_is_empty_after_refusals(root: Path) -> None:
    refused = [
        (b"MZ", MIB),
        (b"", MIB),
        (b"%PDF-" + bytes(100), 64),
        (zip_bytes({"notes.txt": b"hello"}), MIB),
        (docx_bytes({"word/media/big.bin": bytes(2 * MIB)}), 64 * KIB),
    ]
    for data, limit in refused:
        with pytest.raises(AttachmentError):
            store([data], name="x.pdf", max_bytes=limit)

    assert (root / "tmp").is_dir()
    assert list((root / "tmp").iterdir()) == []


def _raise_disk_full(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize(
    ("module", "attribute"), [(os, "fsync"), (os, "replace"), (tempfile, "mkstemp")]
)
def test_a_full_disk_leaves_nothing_behind(
    root: Path, monkeypatch: pytest.MonkeyPatch, module: object, attribute: str
) -> None:
    monkeypatch.setattr(module, attribute, _raise_disk_full)

    with pytest.raises(AttachmentError) as refused:
        store(chunked(pdf_bytes()), name="report.pdf")

    assert str(refused.value) == DISK_FULL
    assert isinstance(refused.value.__cause__, OSError)
    assert stored_files(root) == []


def test_a_full_disk_while_writing_leaves_nothing_behind(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FullDisk(io.FileIO):
        def write(self, data: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    def fdopen(fd: int, mode: str = "r", *args: object, **kwargs: object) -> io.FileIO:
        assert mode == "wb"
        return FullDisk(fd, "wb")

    monkeypatch.setattr(os, "fdopen", fdopen)

    with pytest.raises(AttachmentError, match="disk is full"):
        store(chunked(pdf_bytes()), name="report.pdf")

    assert stored_files(root) == []


def test_other_storage_errors_are_not_hidden(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)

    with pytest.raises(PermissionError):
        store([pdf_bytes()], name="report.pdf")
    assert stored_files(root) == []


def test_open_stored_returns_the_verified_file_at_its_start(root: Path) -> None:
    data = png_bytes()
    result = store([data], name="photo.png")

    with open_stored(result.relative_path, result.sha256) as handle:
        assert handle.tell() == 0
        assert handle.read() == data


@pytest.mark.parametrize(
    "relative_path", ["../../etc/passwd", "/etc/passwd", "ab/../../outside", "", "tmp/x", "a\x00b"]
)
def test_open_stored_refuses_paths_outside_the_folder(root: Path, relative_path: str) -> None:
    root.mkdir(parents=True)
    (root.parent / "outside").write_bytes(b"secret")
    sha = hashlib.sha256(b"secret").hexdigest()

    with pytest.raises(AttachmentError, match="its stored path is not valid"):
        open_stored(relative_path, sha)


def test_open_stored_refuses_a_link_out_of_the_folder(root: Path) -> None:
    (root.parent / "outside").write_bytes(b"secret")
    (root / "ab").mkdir(parents=True)
    (root / "ab" / "link").symlink_to(root.parent / "outside")

    with pytest.raises(AttachmentError, match="its stored path is not valid"):
        open_stored("ab/link", hashlib.sha256(b"secret").hexdigest())


def test_open_stored_refuses_a_tampered_file(root: Path) -> None:
    result = store([pdf_bytes()], name="report.pdf")
    path = root / result.relative_path
    tampered = bytearray(path.read_bytes())
    tampered[-3] ^= 0x01
    path.write_bytes(bytes(tampered))

    with pytest.raises(AttachmentError) as refused:
        open_stored(result.relative_path, result.sha256)
    assert "the stored file is damaged" in str(refused.value)


def test_open_stored_says_when_the_file_is_missing(root: Path) -> None:
    result = store([pdf_bytes()], name="report.pdf")
    (root / result.relative_path).unlink()

    with pytest.raises(AttachmentError, match="the stored file is missing"):
        open_stored(result.relative_path, result.sha256)


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("تقرير الحالة.pdf", "تقرير الحالة.pdf"),
        ("报告.pdf", "报告.pdf"),
        # Persian needs the zero-width non-joiner; ruff takes its letters for Latin lookalikes.
        ("نامه\u200cها.docx", "نامه\u200cها.docx"),  # noqa: RUF001
        ("../../x.pdf", "x.pdf"),
        ("..\\..\\windows\\x.pdf", "x.pdf"),
        ("C:\\Users\\me\\x.pdf", "x.pdf"),
        ("a\x00b\r\n\tc\x1b[31m.pdf", "abc[31m.pdf"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("  .hidden.pdf. ", "hidden.pdf"),
        ("", "attachment"),
        ("..", "attachment"),
        ("../", "attachment"),
        ("\x00\x01", "attachment"),
    ],
)
def test_names_are_sanitised(given_name: str, expected: str) -> None:
    assert clean_name(given_name) == expected


def test_long_names_are_cut_keeping_the_extension() -> None:
    cleaned = clean_name("证" * 300 + ".pdf")

    assert len(cleaned) == 200
    assert cleaned.endswith("证.pdf")


@hypothesis_settings(derandomize=True, max_examples=300, deadline=None, database=None)
@given(st.text())
def test_any_name_becomes_a_safe_one(name: str) -> None:
    cleaned = clean_name(name)

    assert 0 < len(cleaned) <= 200
    assert "/" not in cleaned
    assert "\\" not in cleaned
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in cleaned)
    assert clean_name(cleaned) == cleaned


def test_store_keeps_a_sanitised_unicode_name(root: Path) -> None:
    result = store([pdf_bytes()], name="../../تقرير 报告.pdf")

    assert result.original_name == "تقرير 报告.pdf"


@pytest.fixture
def upload_temp(settings: Settings, tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def test_the_upload_handler_stops_as_soon_as_the_limit_passes(
    settings: Settings, upload_temp: Path
) -> None:
    settings.ATTACHMENT_MAX_BYTES = KIB
    request = HttpRequest()
    handler = LimitedUploadHandler(request)
    handler.new_file("file", "big.pdf", "application/pdf", None)

    handler.receive_data_chunk(b"x" * 1000, 0)
    with pytest.raises(StopUpload) as stopped:
        handler.receive_data_chunk(b"x" * 1000, 1000)

    assert stopped.value.connection_reset is False
    assert upload_refusal(request) == "big.pdf is larger than the 1 KB limit."
    assert list(upload_temp.iterdir()) == []


def test_the_upload_handler_refuses_a_declared_oversize_file(
    settings: Settings, upload_temp: Path
) -> None:
    request = HttpRequest()
    handler = LimitedUploadHandler(request)

    with pytest.raises(StopUpload):
        handler.new_file("file", "report.pdf", "application/pdf", 110_000_000)

    assert upload_refusal(request) == "report.pdf is 104.9 MB; the limit is 20 MB."
    assert list(upload_temp.iterdir()) == []


def test_the_upload_handler_passes_a_file_within_the_limit(
    settings: Settings, upload_temp: Path
) -> None:
    settings.ATTACHMENT_MAX_BYTES = KIB
    request = HttpRequest()
    handler = LimitedUploadHandler(request)
    handler.new_file("file", "ok.pdf", "application/pdf", None)
    handler.receive_data_chunk(b"x" * 1000, 0)
    handler.receive_data_chunk(b"x" * 24, 1000)

    uploaded = handler.file_complete(KIB)

    assert uploaded is not None
    assert uploaded.read() == b"x" * KIB
    uploaded.close()
    assert upload_refusal(request) is None


def test_a_real_multipart_upload_is_stopped_and_a_small_one_stored(
    root: Path, settings: Settings, upload_temp: Path
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 4 * KIB
    factory = RequestFactory()
    big = factory.post("/", {"file": SimpleUploadedFile("big.pdf", b"%PDF-" + bytes(100 * KIB))})
    big.upload_handlers = [LimitedUploadHandler(big)]

    assert "file" not in big.FILES
    assert upload_refusal(big) == "big.pdf is larger than the 4 KB limit."

    small = factory.post("/", {"file": SimpleUploadedFile("small.pdf", pdf_bytes())})
    small.upload_handlers = [LimitedUploadHandler(small)]
    upload = small.FILES["file"]
    assert isinstance(upload, UploadedFile)
    result = store(upload.chunks(), name=upload.name or "")
    upload.close()

    assert upload_refusal(small) is None
    assert result.content_type == "application/pdf"
    assert stored_files(root) == [root / result.relative_path]
    assert list(upload_temp.iterdir()) == []
