"""Generated request packages go to the configured storage and come back through the
access-checked download, on a folder and on a bucket of the S3 EMULATOR (moto's
server on 127.0.0.1, not Amazon S3)."""

from __future__ import annotations

import hashlib

from django.test import Client
from django.urls import reverse

from cpnav.documents.models import GeneratedDocument
from tests.conftest import signed_in
from tests.route import Route
from tests.screening.test_request_interview import walk
from tests.storage.conftest import Backend


def test_a_package_is_stored_and_downloaded(backend: Backend, route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    walk(client, route)

    client.post(reverse("documents:generate", args=[route.cp.pk]))

    made = {g.format: g for g in GeneratedDocument.objects.all()}
    assert set(made) == {"pdf", "docx"}
    files = backend.files()
    assert set(files) == {g.relative_path for g in made.values()}
    for document in made.values():
        assert hashlib.sha256(files[document.relative_path]).hexdigest() == document.sha256
        download = client.get(reverse("documents:download", args=[document.pk]))
        assert download.status_code == 200
        assert b"".join(download.streaming_content) == files[document.relative_path]  # type: ignore[attr-defined]
    assert backend.leftovers() == []
    outsider = signed_in(Client(), route.outsider)
    assert outsider.get(reverse("documents:download", args=[made["pdf"].pk])).status_code == 404
