"""The pages of the route, as the investigator, supervisor, sponsor and CCHT use them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Attachment, Case, CPRequest, Person, Status
from tests.conftest import signed_in
from tests.route import Route

pytestmark = pytest.mark.django_db

PERSON = {
    "version": "1", "full_name": "Li Wei Synthetic", "citizenship": "noncitizen",
    "date_of_birth": "2009-02-03", "a_number": "A87654321", "languages": "Mandarin, English",
}  # fmt: skip


def test_create_case_and_add_people(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    response = client.post(reverse("cases:case_new"), {
        "version": "1", "agency": route.county.pk, "case_number": "2026-0100",
        "trafficking_forms": ["sex"], "federal_partner": route.hsi.pk,
        "criminal_status": "investigating", "civil_status": "none",
    })  # fmt: skip
    case = Case.objects.get(case_number="2026-0100")
    assert response["Location"] == reverse("cases:case", args=[case.pk])
    assert case.members.filter(user=route.investigator).exists()
    duplicate = client.post(reverse("cases:case_new"), {
        "version": "1", "agency": route.county.pk, "case_number": "2026-0100",
        "criminal_status": "investigating", "civil_status": "none",
    })  # fmt: skip
    assert "already used" in duplicate.content.decode()
    response = client.post(reverse("cases:person_new", args=[case.pk]), PERSON)
    person = Person.objects.get(case=case)
    assert response["Location"] == reverse("cases:person", args=[person.pk])
    assert person.a_number == "A087654321"
    assert person.languages == ["Mandarin", "English"]


@pytest.mark.parametrize(
    ("name", "script"),
    [("فاطمة الزهراء", "Arabic"), ("王小明", "Chinese"), ("<script>alert(1)</script>", "HTML")],
)
def test_names_in_any_script_are_stored_encrypted_and_shown_safely(
    route: Route, name: str, script: str
) -> None:
    client = signed_in(Client(), route.investigator)
    client.post(
        reverse("cases:person_new", args=[route.case.pk]),
        {**PERSON, "full_name": name, "a_number": ""},
    )
    person = Person.objects.exclude(pk=route.person.pk).get()
    assert person.full_name == name
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT full_name FROM cases_person WHERE id = %s",
            [person.pk.hex if connection.vendor == "sqlite" else person.pk],
        )
        raw = cursor.fetchone()[0]
    assert raw.startswith("v1:")
    assert name not in raw
    page = client.get(reverse("cases:person", args=[person.pk])).content.decode()
    if script == "HTML":
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;" in page
    else:
        assert name in page


def test_bad_person_input_is_explained(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    page = client.post(reverse("cases:person_new", args=[route.case.pk]),
                       {**PERSON, "date_of_birth": tomorrow, "a_number": "B99"}).content.decode()  # fmt: skip
    assert "in the future" in page
    assert "8 or 9 digits" in page
    assert 'value="Li Wei Synthetic"' in page
    assert Person.objects.count() == 1


def test_duplicates_are_found_without_decrypting(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    data = {**PERSON, "full_name": "Someone Else", "a_number": "a-012345678", "date_of_birth": ""}
    page = client.post(reverse("cases:person_new", args=[route.case.pk]), data).content.decode()
    assert "may be someone already recorded" in page
    assert "same A-number" in page
    assert Person.objects.count() == 1
    client.post(
        reverse("cases:person_new", args=[route.case.pk]), {**data, "confirm_not_duplicate": "on"}
    )
    assert Person.objects.count() == 2


def test_stale_edit_shows_a_merge_and_overwrites_nothing(route: Route) -> None:
    first = signed_in(Client(), route.investigator)
    second = signed_in(Client(), route.supervisor)
    url = reverse("cases:person_edit", args=[route.person.pk])
    base = {**PERSON, "version": str(route.person.version)}
    assert second.post(url, {**base, "contact": "new phone from supervisor"}).status_code == 302
    page = first.post(url, {**base, "contact": "investigator's edit"}).content.decode()
    assert "Someone else saved this record" in page
    assert "new phone from supervisor" in page  # the saved version, beside the user's own
    assert "investigator&#x27;s edit" in page
    route.person.refresh_from_db()
    assert route.person.contact == "new phone from supervisor"
    assert route.person.version == 2
    # Saving again from the merge form (now on version 2) is a conscious overwrite.
    assert first.post(url, {**base, "version": "2", "contact": "merged"}).status_code == 302
    route.person.refresh_from_db()
    assert route.person.contact == "merged"


def test_facts_save_updates_the_determination(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    url = reverse("cases:request_facts", args=[route.cp.pk])
    response = client.post(url, {"version": "1", "labor_or_services": "yes", "means": ["force"],
                                 "purpose": ["slavery"], "potential_witness": "yes",
                                 "narrative": "<b>worked 16 hours</b>"})  # fmt: skip
    assert response.status_code == 302
    cp = CPRequest.objects.get(pk=route.cp.pk)
    assert cp.determination["outcome"] == "likely_eligible"
    assert cp.narrative == "<b>worked 16 hours</b>"
    page = client.get(reverse("cases:request", args=[cp.pk])).content.decode()
    assert "likely_eligible" in page
    stale = client.post(url, {"version": "1", "labor_or_services": "no"}).content.decode()
    assert "Someone else saved this record" in stale


def test_route_through_the_pages(route: Route) -> None:
    def go(who: str, name: str, **data: str) -> None:
        client = signed_in(Client(), getattr(route, who))
        response = client.post(reverse("cases:request_transition", args=[route.cp.pk, name]), data)
        assert response.status_code == 302, response.content.decode()[:500]

    go("investigator", "submit_for_approval")
    queue = (
        signed_in(Client(), route.supervisor).get(reverse("cases:queue_approval")).content.decode()
    )
    assert route.case.case_number in queue
    go("supervisor", "approve")
    queue = (
        signed_in(Client(), route.sponsor).get(reverse("cases:queue_endorsement")).content.decode()
    )
    assert route.case.case_number in queue
    go("sponsor", "endorse")
    reviewer = signed_in(Client(), route.reviewer)
    inbox = reviewer.get(
        reverse("cases:queue_ccht"), {"level": "local", "form": "labor", "age": "adult"}
    )
    assert route.case.case_number in inbox.content.decode()
    assert (
        route.case.case_number
        not in reviewer.get(reverse("cases:queue_ccht"), {"form": "sex"}).content.decode()
    )
    go("reviewer", "request_information", information="Interview notes",
       due_date=(date.today() + timedelta(days=7)).isoformat())  # fmt: skip
    go("investigator", "respond", comment="Attached.")
    go("reviewer", "grant", start_date="2026-12-01")
    assert CPRequest.objects.get(pk=route.cp.pk).status == Status.GRANTED
    page = signed_in(Client(), route.investigator).get(reverse("cases:request", args=[route.cp.pk]))
    assert "2028-11-30" in page.content.decode()


def test_wrong_state_and_missing_comment_are_explained(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    page = client.post(reverse("cases:request_transition", args=[route.cp.pk, "withdraw"]), {})
    assert "This is required" in page.content.decode()
    supervisor = signed_in(Client(), route.supervisor)
    page = supervisor.post(reverse("cases:request_transition", args=[route.cp.pk, "approve"]), {})
    assert page.status_code == 200
    assert "cannot be changed" in page.content.decode()


def test_non_team_members_cannot_use_the_ccht_inbox(route: Route) -> None:
    assert (
        signed_in(Client(), route.investigator).get(reverse("cases:queue_ccht")).status_code == 403
    )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(client: Client, route: Route, data: bytes, name: str) -> str:
    response = client.post(
        reverse("cases:attachment_upload", args=[route.cp.pk]),
        {"file": SimpleUploadedFile(name, data), "description": "statement"},
    )
    return response.content.decode() if response.status_code == 200 else response["Location"]


def test_attachments_are_checked_stored_and_served_through_access(
    route: Route, settings: object, tmp_path: object
) -> None:
    settings.ATTACHMENTS_DIR = tmp_path  # type: ignore[attr-defined]
    client = signed_in(Client(), route.investigator)
    page = upload(client, route, b"MZ\x90\x00" + b"\x00" * 100, "statement.pdf")
    assert "Windows program" in page
    assert not Attachment.objects.exists()
    upload(client, route, PDF, "statement.pdf")
    attachment = Attachment.objects.get()
    assert attachment.original_name == "statement.pdf"
    download = client.get(reverse("cases:attachment", args=[attachment.pk]))
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action="attachment.downloaded").exists()
    assert (
        signed_in(Client(), route.outsider)
        .get(reverse("cases:attachment", args=[attachment.pk]))
        .status_code
        == 404
    )


def test_oversized_upload_is_refused(route: Route, settings: object, tmp_path: object) -> None:
    settings.ATTACHMENTS_DIR = tmp_path  # type: ignore[attr-defined]
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024  # type: ignore[attr-defined]
    client = signed_in(Client(), route.investigator)
    page = upload(client, route, PDF + b"0" * (2 * 1024 * 1024), "big.pdf")
    assert "limit" in page
    assert not Attachment.objects.exists()


def test_notifications_page(route: Route) -> None:
    from cpnav.cases.models import Notification

    Notification.objects.create(user=route.investigator, message="CP-1234 was returned.", link="/")
    client = signed_in(Client(), route.investigator)
    assert "1" in client.get("/").content.decode()
    page = client.get(reverse("cases:notifications")).content.decode()
    assert "CP-1234 was returned." in page
    assert Notification.objects.get().read_at is not None


def test_case_team_is_managed_on_the_case_page(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    url = reverse("cases:case_team", args=[route.case.pk])
    client.post(url, {"user": str(route.teammate.pk)})
    assert route.case.members.filter(user=route.teammate).exists()
    mate = signed_in(Client(), route.teammate)
    assert mate.get(reverse("cases:case", args=[route.case.pk])).status_code == 200
    client.post(url, {"user": str(route.outsider.pk)})
    assert not route.case.members.filter(user=route.outsider).exists()
    client.post(url, {"user": str(route.teammate.pk), "action": "remove"})
    assert mate.get(reverse("cases:case", args=[route.case.pk])).status_code == 404
    client.post(url, {"user": str(route.investigator.pk), "action": "remove"})
    assert route.case.members.filter(user=route.investigator).exists()
    assert AuditEvent.objects.filter(action="case.member_removed").count() == 1


def test_after_a_decline_another_partner_is_chosen(route: Route) -> None:
    from cpnav.cases.models import CPRequest as Request

    def go(who: str, name: str, **data: str) -> None:
        signed_in(Client(), getattr(route, who)).post(
            reverse("cases:request_transition", args=[route.cp.pk, name]), data
        )

    go("investigator", "submit_for_approval")
    go("supervisor", "approve")
    go("sponsor", "decline", comment="Outside our area.")
    assert Request.objects.get(pk=route.cp.pk).sponsor_office is None
    client = signed_in(Client(), route.investigator)
    client.post(reverse("cases:request_partner", args=[route.cp.pk]),
                {"sponsor_office": str(route.other_federal.pk)})  # fmt: skip
    go("investigator", "submit_for_approval")
    go("supervisor", "approve")
    go("other_sponsor", "endorse")
    assert Request.objects.get(pk=route.cp.pk).status == Status.SUBMITTED
    refused = client.post(reverse("cases:request_partner", args=[route.cp.pk]),
                          {"sponsor_office": str(route.hsi.pk)})  # fmt: skip
    assert refused.status_code == 403


def test_share_page(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    url = reverse("cases:person_share", args=[route.person.pk])
    assert client.get(url).status_code == 200
    later = (date.today() + timedelta(days=10)).isoformat()
    bad = client.post(url, {"grantee": route.outsider.email, "details": ["full_name"], "reason": "x",
                            "expires_on": later}).content.decode()  # fmt: skip
    assert "Not a victim specialist" in bad
    too_long = client.post(url, {"grantee": route.specialist.email, "details": ["full_name"],
                                 "reason": "x", "expires_on": "2099-01-01"}).content.decode()  # fmt: skip
    assert "at most 90 days" in too_long
    client.post(url, {"grantee": route.specialist.email, "details": ["full_name"],
                      "reason": "Shelter", "expires_on": later})  # fmt: skip
    share = route.person.shares.get()
    specialist = signed_in(Client(), route.specialist)
    assert specialist.get(reverse("cases:person", args=[route.person.pk])).status_code == 200
    client.post(url, {"revoke": str(share.pk)})
    assert specialist.get(reverse("cases:person", args=[route.person.pk])).status_code == 404
    assert signed_in(Client(), route.outsider).get(url).status_code == 404


def test_case_list_filters_sorts_and_keeps_filters_across_pages(route: Route) -> None:
    for n in range(30):
        case = Case.objects.create(
            agency=route.county, case_number=f"2026-9{n:03d}",
            lead_investigator=route.investigator, trafficking_forms=["sex"],
        )  # fmt: skip
        if n % 3 == 0:
            person = Person(case=case, full_name=f"Synthetic Person {n}", citizenship="noncitizen")
            person.refresh_indexes()
            person.save()
            CPRequest.objects.create(case=case, person=person, created_by=route.investigator,
                                     status=Status.SUBMITTED)  # fmt: skip
    client = signed_in(Client(), route.supervisor)
    url = reverse("cases:cases")
    everything = client.get(url)
    assert "31 cases you can see" in everything.content.decode()

    submitted = client.get(url, {"status": "submitted", "sort": "case_number"})
    body = submitted.content.decode()
    assert "10 cases match the filters" in body
    numbers = [c.case_number for c in submitted.context["page"]]
    assert numbers == sorted(numbers)
    assert all(int(n[-3:]) % 3 == 0 for n in numbers)
    labor = client.get(url, {"form": "labor"}).context["page"]
    assert [c.case_number for c in labor] == ["2026-0042"]
    assert client.get(url, {"q": "9012"}).context["page"].paginator.count == 1
    assert "No case matches these filters." in client.get(url, {"q": "nothing"}).content.decode()

    # Unknown values are ignored rather than failing; the pager keeps the filters.
    odd = client.get(url, {"status": "bogus", "form": "x", "sort": "drop table"})
    assert odd.status_code == 200
    assert odd.context["page"].paginator.count == 31
    sex = client.get(url, {"form": "sex", "sort": "-case_number"})
    assert "form=sex&amp;sort=-case_number&amp;page=2" in sex.content.decode()
    page_two = client.get(url, {"form": "sex", "sort": "-case_number", "page": "2"})
    assert [c.case_number for c in page_two.context["page"]] == ["2026-9004", "2026-9003",
                                                                 "2026-9002", "2026-9001",
                                                                 "2026-9000"]  # fmt: skip
    # Filters never widen what a user may see.
    outsider = signed_in(Client(), route.outsider).get(url, {"status": "submitted"})
    assert outsider.context["page"].paginator.count == 0


def test_the_inbox_condition_is_the_partial_index_condition() -> None:
    from cpnav.cases.models import OPEN_AT_CCHT, OPEN_AT_CCHT_SQL

    assert OPEN_AT_CCHT == [Status.SUBMITTED, Status.INFORMATION_REQUESTED]
    assert OPEN_AT_CCHT_SQL.endswith("IN ('submitted', 'information_requested')")
    index = next(i for i in CPRequest._meta.indexes if i.name == "request_ccht_open")
    assert index.condition is not None
    assert dict(index.condition.children) == {"status__in": OPEN_AT_CCHT}
