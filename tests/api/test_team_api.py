"""The case team, shares and attachments over the API, persona by persona."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Attachment, CaseMember, Share
from tests.api.test_cases_api import Api, token_for
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _later(days: int = 30) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


# --- The case team ------------------------------------------------------------------


def test_team_member_adds_and_removes_a_member(route: Route) -> None:
    api = Api(route.investigator)
    team = api.call("get", f"/cases/{route.case.pk}/members")
    assert team.status_code == 200
    assert team.json()["count"] == 1
    assert team.json()["items"][0] == {
        "id": str(route.investigator.pk), "full_name": route.investigator.full_name,
        "email": route.investigator.email, "lead": True,
    }  # fmt: skip
    added = api.call("post", f"/cases/{route.case.pk}/members", {"user": route.teammate.pk})
    assert added.status_code == 201, added.json()
    assert added.json()["lead"] is False
    assert CaseMember.objects.filter(case=route.case, user=route.teammate).exists()
    # The new member now sees the case and its team.
    assert Api(route.teammate).call("get", f"/cases/{route.case.pk}/members").json()["count"] == 2
    gone = api.call("delete", f"/cases/{route.case.pk}/members/{route.teammate.pk}")
    assert gone.status_code == 204
    assert not CaseMember.objects.filter(case=route.case, user=route.teammate).exists()
    assert AuditEvent.objects.filter(action="case.member_removed").exists()
    again = api.call("delete", f"/cases/{route.case.pk}/members/{route.teammate.pk}")
    assert again.status_code == 404


def test_team_rules_come_from_the_service(route: Route) -> None:
    api = Api(route.investigator)
    lead = api.call("delete", f"/cases/{route.case.pk}/members/{route.investigator.pk}")
    assert lead.status_code == 409
    assert "lead investigator" in lead.json()["detail"]
    foreign = api.call("post", f"/cases/{route.case.pk}/members", {"user": route.outsider.pk})
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["path"] == "$.user"
    unknown = api.call("post", f"/cases/{route.case.pk}/members", {"user": uuid.uuid4()})
    assert unknown.status_code == 422
    assert not CaseMember.objects.filter(user=route.outsider).exists()
    # The supervisor may edit the case; the sponsor sees it (routed) but may not.
    route.cp.routed_to_sponsor_at = timezone.now()
    route.cp.save()
    sponsor = Api(route.sponsor)
    assert sponsor.call("get", f"/cases/{route.case.pk}/members").status_code == 200
    refused = sponsor.call("post", f"/cases/{route.case.pk}/members", {"user": route.teammate.pk})
    assert refused.status_code == 403
    supervisor = Api(route.supervisor)
    added = supervisor.call("post", f"/cases/{route.case.pk}/members", {"user": route.teammate.pk})
    assert added.status_code == 201


def test_outsiders_read_only_tokens_and_anonymous_callers(route: Route) -> None:
    path = f"/cases/{route.case.pk}/members"
    outsider = Api(route.outsider)
    assert outsider.call("get", path).status_code == 404
    assert outsider.call("post", path, {"user": route.outsider.pk}).status_code == 404
    assert outsider.call("delete", f"{path}/{route.investigator.pk}").status_code == 404
    reader = Api(route.investigator, ("read",))
    assert reader.call("get", path).status_code == 200
    assert reader.call("post", path, {"user": route.teammate.pk}).status_code == 403
    assert reader.call("delete", f"{path}/{route.investigator.pk}").status_code == 403
    assert Client().get(f"/api/v1{path}").status_code == 401
    assert Client().post(f"/api/v1{path}").status_code == 401
    assert CaseMember.objects.filter(case=route.case).count() == 1


# --- Shares ---------------------------------------------------------------------------


def test_share_with_a_specialist_then_revoke(route: Route) -> None:
    api = Api(route.investigator)
    specialist = Api(route.specialist)
    person = f"/persons/{route.person.pk}"
    assert specialist.call("get", person).status_code == 404
    shared = api.call("post", f"{person}/shares", {
        "grantee": route.specialist.pk, "fields": ["full_name", "contact"],
        "reason": "Shelter intake", "expires_at": _later(),
    })  # fmt: skip
    assert shared.status_code == 201, shared.json()
    share = shared.json()
    assert share["fields"] == ["contact", "full_name"]
    assert share["active"] is True
    assert share["grantee"]["email"] == route.specialist.email
    listed = api.call("get", f"{person}/shares").json()
    assert [s["id"] for s in listed["items"]] == [share["id"]]

    seen = specialist.call("get", person)
    assert seen.status_code == 200
    fields = seen.json()["fields"]
    assert fields["full_name"] == "Ana Synthetic-Testperson"
    assert fields["contact"] == "+1 555 0100"
    assert fields["date_of_birth"] == fields["a_number"] == "[redacted]"
    # Seeing a record through a share does not open the share list or the case.
    assert specialist.call("get", f"{person}/shares").status_code == 403
    assert specialist.call("get", f"/cases/{route.case.pk}").status_code == 404
    assert specialist.call("delete", f"/shares/{share['id']}").status_code == 403

    assert Api(route.outsider).call("delete", f"/shares/{share['id']}").status_code == 404
    assert Api(route.outsider).call("get", f"{person}/shares").status_code == 404
    assert (
        Api(route.investigator, ("read",)).call("delete", f"/shares/{share['id']}").status_code
        == 403
    )
    revoked = api.call("delete", f"/shares/{share['id']}")
    assert revoked.status_code == 204
    assert Share.objects.get().revoked_at is not None
    assert specialist.call("get", person).status_code == 404
    assert api.call("get", f"{person}/shares").json()["items"][0]["active"] is False
    assert api.call("delete", f"/shares/{uuid.uuid4()}").status_code == 404


def test_share_rules_come_from_the_service(route: Route) -> None:
    api = Api(route.investigator)
    path = f"/persons/{route.person.pk}/shares"
    body: dict[str, Any] = {"grantee": route.specialist.pk, "fields": ["full_name"],
                            "reason": "Shelter intake", "expires_at": _later()}  # fmt: skip
    not_specialist = api.call("post", path, {**body, "grantee": route.teammate.pk})
    assert not_specialist.status_code == 422
    assert not_specialist.json()["errors"][0]["path"] == "$.grantee"
    past = api.call("post", path, {**body, "expires_at": _later(-1)})
    assert past.status_code == 422
    assert past.json()["errors"][0]["path"] == "$.expires_at"
    too_long = api.call("post", path, {**body, "expires_at": _later(120)})
    assert too_long.status_code == 422
    unknown_field = api.call("post", path, {**body, "fields": ["citizenship"]})
    assert unknown_field.status_code == 422
    unknown_user = api.call("post", path, {**body, "grantee": uuid.uuid4()})
    assert unknown_user.status_code == 422
    assert not Share.objects.exists()
    assert Api(route.investigator, ("read",)).call("post", path, body).status_code == 403
    assert Api(route.outsider).call("post", path, body).status_code == 404


# --- Attachments ------------------------------------------------------------------------


class Uploader:
    def __init__(self, route: Route, user: Any = None, scopes: tuple[str, ...] = ("read", "write")):
        token = token_for(user or route.investigator, scopes)
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.path = f"/api/v1/requests/{route.cp.pk}/attachments"

    def upload(self, data: bytes, name: str = "statement.pdf") -> Any:
        from django.core.files.uploadedfile import SimpleUploadedFile

        return self.client.post(
            self.path, {"file": SimpleUploadedFile(name, data), "description": "statement"}
        )


@pytest.fixture
def stored(settings: Any, tmp_path: Path) -> Path:
    settings.ATTACHMENTS_DIR = tmp_path
    settings.ATTACHMENT_MAX_BYTES = 64 * 1024
    return tmp_path


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_upload_list_and_download(route: Route, stored: Path) -> None:
    team = Uploader(route)
    uploaded = team.upload(PDF)
    assert uploaded.status_code == 201, uploaded.json()
    attachment = uploaded.json()
    assert attachment["content_type"] == "application/pdf"
    assert attachment["original_name"] == "statement.pdf"
    assert attachment["description"] == "statement"
    assert attachment["size"] == len(PDF)
    listed = team.client.get(team.path).json()
    assert [a["id"] for a in listed["items"]] == [attachment["id"]]
    assert "relative_path" not in listed["items"][0]
    download: Any = team.client.get(f"/api/v1/attachments/{attachment['id']}")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content) == PDF
    assert AuditEvent.objects.filter(action="attachment.downloaded").exists()
    outsider = Uploader(route, route.outsider)
    assert outsider.client.get(f"/api/v1/attachments/{attachment['id']}").status_code == 404
    assert outsider.client.get(outsider.path).status_code == 404
    assert outsider.upload(PDF).status_code == 404
    assert team.client.get(f"/api/v1/attachments/{uuid.uuid4()}").status_code == 404
    assert Client().get(f"/api/v1/attachments/{attachment['id']}").status_code == 401
    assert Attachment.objects.count() == 1


def test_wrong_type_and_oversized_uploads_are_refused(route: Route, stored: Path) -> None:
    team = Uploader(route)
    program = team.upload(b"MZ\x90\x00" + bytes(100), "statement.pdf")
    assert program.status_code == 422
    assert program.json()["errors"][0]["path"] == "$.file"
    assert "Windows program" in program.json()["errors"][0]["message"]
    big = team.upload(PDF + bytes(128 * 1024), "big.pdf")
    assert big.status_code == 422
    assert big.json()["errors"][0]["path"] == "$.file"
    assert "limit" in big.json()["errors"][0]["message"]
    empty = team.upload(b"", "empty.pdf")
    assert empty.status_code == 422
    missing = team.client.post(team.path, {"description": "no file"})
    assert missing.status_code == 422
    assert not Attachment.objects.exists()
    assert _files(stored) == []


def test_upload_needs_write_scope_and_an_open_request(route: Route, stored: Path) -> None:
    assert Uploader(route, scopes=("read",)).upload(PDF).status_code == 403
    assert Uploader(route, route.supervisor).upload(PDF).status_code == 403
    assert Client().post(Uploader(route).path, {"description": "x"}).status_code == 401
    assert not Attachment.objects.exists()
