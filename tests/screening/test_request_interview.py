from __future__ import annotations

from html import unescape
from io import BytesIO

import pytest
from django.test import Client
from django.urls import reverse

from cpnav.cases.models import CPRequest
from cpnav.documents.models import GeneratedDocument
from cpnav.interview import interview_by_id
from tests.conftest import signed_in
from tests.route import Route

pytestmark = pytest.mark.django_db

VALUES = {"yes_no_unknown": "yes", "date": "2000-01-01", "number": "30", "text": "Synthetic text"}


def walk(client: Client, route: Route, limit: int = 60) -> list[str]:
    interview = interview_by_id("cp_request")
    url = reverse("cases:request_interview", args=[route.cp.pk])
    asked: list[str] = []
    for _ in range(limit):
        page = client.get(url)
        if page.status_code == 302:
            return asked
        html = unescape(page.content.decode())
        question = next(q for q in interview.questions if q.label in html)
        asked.append(question.id)
        data: dict[str, object] = {}
        if question.type == "people":
            data = {
                "rows": "1",
                **{
                    f"p0-{f.id}": ("2001-02-03" if f.type == "date" else "Synthetic Relative")
                    for f in question.fields or ()
                },
            }
        elif question.type in {"choice", "multi_choice"}:
            data = {"answer": (question.choices or ())[0].value}
        else:
            data = {"answer": VALUES.get(question.type, "x")}
            if question.id == "official_email":
                data = {"answer": "officer@a.example"}
            if question.id == "official_phone":
                data = {"answer": "+1 555 0100"}
        response = client.post(url, data)
        assert response.status_code == 302, (question.id, response.content.decode()[:400])
    raise AssertionError("the interview did not end")


def test_prefilled_questions_are_not_asked_and_answers_update_the_determination(
    route: Route,
) -> None:
    client = signed_in(Client(), route.investigator)
    asked = walk(client, route)
    assert "citizenship" not in asked  # known from the person record
    assert "agency_level" not in asked  # known from the case
    assert "date_of_birth" not in asked
    cp = CPRequest.objects.get(pk=route.cp.pk)
    assert cp.answers["citizenship"] == "noncitizen"
    assert cp.determination["outcome"] in {"likely_eligible", "needs_information", "not_eligible"}
    assert cp.narrative == "Synthetic text"
    review = client.get(reverse("cases:request_review", args=[cp.pk])).content.decode()
    assert "Synthetic Relative" in review


def test_interview_is_only_for_the_team_on_a_draft(route: Route) -> None:
    url = reverse("cases:request_interview", args=[route.cp.pk])
    assert signed_in(Client(), route.supervisor).get(url).status_code == 403
    assert signed_in(Client(), route.outsider).get(url).status_code == 404


def test_package_needs_answers_then_is_generated_and_read_back(
    route: Route, settings: object, tmp_path: object
) -> None:
    from docx import Document
    from pypdf import PdfReader

    settings.ATTACHMENTS_DIR = tmp_path  # type: ignore[attr-defined]
    client = signed_in(Client(), route.investigator)
    generate = reverse("documents:generate", args=[route.cp.pk])
    page = client.post(generate, follow=True).content.decode()
    assert "requesting official" in page
    assert not GeneratedDocument.objects.exists()
    walk(client, route)
    client.post(generate)
    made = {g.format: g for g in GeneratedDocument.objects.all()}
    assert set(made) == {"pdf", "docx"}
    pdf = client.get(reverse("documents:download", args=[made["pdf"].pk]))
    reader = PdfReader(BytesIO(b"".join(pdf.streaming_content)))  # type: ignore[attr-defined]
    text = " ".join(p.extract_text() for p in reader.pages)
    assert len(reader.pages) > 1
    assert "Ana Synthetic-Testperson" in text
    docx_file = client.get(reverse("documents:download", args=[made["docx"].pk]))
    document = Document(BytesIO(b"".join(docx_file.streaming_content)))  # type: ignore[attr-defined]
    words = " ".join(p.text for p in document.paragraphs) + " ".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    )
    assert "Ana Synthetic-Testperson" in words
    assert "Ana" not in (document.core_properties.title or "")
    page = client.get(reverse("cases:request", args=[route.cp.pk])).content.decode()
    assert made["pdf"].sha256[:16] in page
    client.post(generate)
    assert GeneratedDocument.objects.filter(version=2).count() == 2
    outsider = signed_in(Client(), route.outsider)
    assert outsider.get(reverse("documents:download", args=[made["pdf"].pk])).status_code == 404
    assert outsider.post(generate).status_code == 404


def test_extension_interview_is_prefilled_from_the_grant(route: Route, rf: object) -> None:
    from datetime import date

    from cpnav.cases.models import Decision

    route.cp.status = "granted"
    route.cp.save()
    Decision.objects.create(request=route.cp, kind="granted", start_date=date(2025, 1, 15),
                            end_date=date(2027, 1, 14), recorded_by=route.reviewer)  # fmt: skip
    CPRequest.objects.filter(pk=route.cp.pk).update(decided_at="2025-01-15T00:00:00Z")
    client = signed_in(Client(), route.investigator)
    page = client.get(reverse("cases:request", args=[route.cp.pk])).content.decode()
    assert "Start an extension request" in page
    response = client.post(
        reverse("cases:request_new", args=[route.person.pk]), {"kind": "extension"}
    )
    extension = CPRequest.objects.get(kind="extension")
    assert response["Location"] == reverse("cases:request", args=[extension.pk])
    step = client.get(reverse("cases:request_interview", args=[extension.pk]))
    assert step.status_code == 200
    interview = interview_by_id("extension")
    html = unescape(step.content.decode())
    term_end = interview.question("term_end")
    assert term_end.label not in html  # known from the grant, not asked again
