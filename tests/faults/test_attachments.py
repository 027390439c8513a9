"""Saving an attachment when the disk fills up or the database refuses the row.

Nothing partial is left in ATTACHMENTS_DIR, no row points at a missing file, the
user is told plainly, and the same upload then works.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Attachment
from tests.api.test_team_api import Uploader
from tests.conftest import signed_in
from tests.faults.conftest import FailOn, assert_chain_intact, files_under, photo, server_page
from tests.route import Route

pytestmark = pytest.mark.django_db

# A PDF of several upload chunks (Django hands a file to the view 64 KiB at a time).
PDF = b"%PDF-1.4\n" + b"% synthetic padding line\n" * 12_000 + b"trailer<<>>\n%%EOF\n"
WRITTEN_BEFORE_FULL = 100 * 1024


def post_upload(client: Client, route: Route, description: str = "witness statement") -> Any:
    return client.post(
        reverse("cases:attachment_upload", args=[route.cp.pk]),
        {"file": SimpleUploadedFile("statement.pdf", PDF), "description": description},
    )


def fills_up_after(limit: int, root: Path, written: list[int]) -> Callable[..., Any]:
    """os.fdopen whose files under `root` take `limit` bytes, then report a full disk.

    ``written`` collects how many bytes reached the disk before it filled up.
    """
    real_fdopen = os.fdopen

    class FillingFile(io.FileIO):
        def write(self, data: Any) -> int:
            room = limit - sum(written)
            if room <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            done = super().write(bytes(data)[:room])
            written.append(done)
            return done

    def fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if Path(os.readlink(f"/proc/self/fd/{fd}")).is_relative_to(root) and "w" in mode:
            return FillingFile(fd, "wb")
        return real_fdopen(fd, mode, *args, **kwargs)

    return fdopen


def test_a_disk_that_fills_part_way_leaves_no_file_and_no_row(
    route: Route, attachments_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attachments_root.mkdir(parents=True)
    client = signed_in(Client(), route.investigator)
    before = photo(route.cp)
    written: list[int] = []
    monkeypatch.setattr(
        os, "fdopen", fills_up_after(WRITTEN_BEFORE_FULL, attachments_root, written)
    )

    response = post_upload(client, route, "statement taken on 2 November")

    assert sum(written) == WRITTEN_BEFORE_FULL  # the disk filled part-way through the file
    assert response.status_code == 200
    page = response.content.decode()
    assert "the disk is full. Nothing was stored; try again later." in page
    assert "statement taken on 2 November" in page  # what the user typed is still there
    assert files_under(attachments_root) == []
    assert not Attachment.objects.exists()
    assert not AuditEvent.objects.filter(action="attachment.added").exists()
    refused = AuditEvent.objects.get(action="attachment.refused")  # and why, for the operator
    assert refused.details == {"reason": "disk_full"}
    after = photo(route.cp)
    assert after.audit == [(refused.seq, "attachment.refused", refused.hash)]
    assert replace(after, audit=[], head=before.head) == before
    assert_chain_intact()

    monkeypatch.undo()  # space was freed
    assert post_upload(client, route).status_code == 302
    attachment = Attachment.objects.get()
    stored = attachments_root / attachment.relative_path
    assert stored.read_bytes() == PDF
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    assert files_under(attachments_root) == [stored]
    assert_chain_intact()


@pytest.mark.parametrize(
    "statement", ['INSERT INTO "cases_attachment"', 'INSERT INTO "audit_auditevent"']
)
def test_a_database_error_after_the_file_is_stored_keeps_no_row(
    route: Route, attachments_root: Path, fail_on: Callable[..., FailOn], statement: str
) -> None:
    client = server_page(signed_in(Client(), route.investigator))
    audit_before = AuditEvent.objects.count()

    fail_on(statement)
    response = post_upload(client, route)

    assert response.status_code == 503
    assert "Nothing from this request was saved" in response.content.decode()
    assert not Attachment.objects.exists()  # never a row without its audit event
    assert AuditEvent.objects.count() == audit_before
    assert_chain_intact()

    assert post_upload(client, route).status_code == 302
    attachment = Attachment.objects.get()
    assert (attachments_root / attachment.relative_path).read_bytes() == PDF
    assert (
        AuditEvent.objects.filter(action="attachment.added", object_id=str(attachment.pk)).count()
        == 1
    )
    assert_chain_intact()


def test_an_api_upload_the_audit_refuses_keeps_no_row(
    route: Route, attachments_root: Path, settings: Any, fail_on: Callable[..., FailOn]
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 2 * len(PDF)
    team = Uploader(route)
    team.client.raise_request_exception = False

    fail_on('INSERT INTO "audit_auditevent"', containing="attachment.added")
    refused = team.upload(PDF)
    # The API's own error shape, not the site's HTML page; the database's words stay out.
    assert refused.status_code == 503
    assert refused["Retry-After"] == "30"
    assert refused.json() == {
        "detail": "The database is not answering; nothing was saved. Try again shortly.",
        "errors": [],
    }

    assert not Attachment.objects.exists()
    assert_chain_intact()
    assert team.upload(PDF).status_code == 201
    assert Attachment.objects.count() == 1
