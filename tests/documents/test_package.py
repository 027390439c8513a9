"""The package's data model, document list, checklist and missing parts (no rendering)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from cpnav.documents.package import (
    SUPPLEMENT_B_TITLE,
    Document,
    PackageContext,
    checklist,
    chosen,
    clean_text,
    documents_for,
    missing_for_package,
    with_enabled,
)
from tests.documents.conftest import context_data, make_context


def test_clean_text_strips_controls_and_bidi_overrides_but_keeps_lines() -> None:
    assert clean_text("a\x00b\x1b[31mc\x7f") == "ab[31mc"
    assert clean_text("\u202eevil\u202c and \u2066isolate\u2069") == "evil and isolate"
    assert clean_text("one\r\ntwo\rthree\n\nfour\tfive") == "one\ntwo\nthree\n\nfour\tfive"
    assert clean_text("e\u0301") == "\u00e9"  # NFC, so search and comparison agree
    assert clean_text("lone \ud800 surrogate \ufffe") == "lone  surrogate"


def test_every_text_field_is_cleaned() -> None:
    ctx = make_context(
        narrative="\x00Found \u202eat the salon",
        answers=[{"title": "S\x00", "rows": [{"label": "Q\u202e", "value": "A\x07"}]}],
    )
    assert ctx.narrative == "Found at the salon"
    assert ctx.answers[0].title == "S"
    assert (ctx.answers[0].rows[0].label, ctx.answers[0].rows[0].value) == ("Q", "A")


def test_context_takes_the_engine_json_and_refuses_bad_values() -> None:
    ctx = make_context()
    assert ctx.determination is not None
    assert ctx.determination.outcome == "likely_eligible"
    assert [c.id for c in ctx.determination.criteria] == [
        "noncitizen",
        "severe_form",
        "witness_or_civil_action",
    ]
    with pytest.raises(ValidationError):
        make_context(reference="CP-../../x")
    with pytest.raises(ValidationError):
        make_context(kind="renewal")
    with pytest.raises(ValidationError):
        PackageContext.model_validate({**context_data(), "cooperating": True})
    # A determination stored under a later contract with extra keys still renders.
    newer = {**context_data()["determination"], "contract": "cpnav.determination/2", "x": 1}
    assert make_context(determination=newer).determination is not None


def test_minor_from_date_of_birth_estimate_or_engine() -> None:
    assert make_context().minor is True
    adult: dict[str, Any] = {"full_name": "Ana Pérez", "date_of_birth": date(1990, 1, 2)}
    no_hhs = {**context_data()["determination"], "actions": []}
    assert make_context(person=adult, determination=no_hhs).minor is False
    estimated = {"full_name": "Ana Pérez", "age_estimate": 16}
    assert make_context(person=estimated, determination=no_hhs).minor is True
    assert make_context(person={"full_name": "X"}, determination=no_hhs).minor is None


def test_bundle_order_and_supplement_b_only_when_asked_for() -> None:
    ids = [d.id for d in documents_for(make_context())]
    assert ids == [
        "cover_memo",
        "request_summary",
        "checklist",
        "approvals",
        "victim_sheet",
        "supplement_b",
    ]
    with_b = {d.id: d for d in documents_for(make_context(supplement_b_draft=True))}
    assert with_b["supplement_b"].enabled
    assert with_b["supplement_b"].title == SUPPLEMENT_B_TITLE
    assert "signing confers no status" in SUPPLEMENT_B_TITLE
    without = documents_for(make_context(supplement_b_draft=False))
    assert [d.id for d in chosen(without)] == ids[:-1]
    assert [d.id for d in chosen(with_enabled(without, "approvals", False))] == [
        "cover_memo",
        "request_summary",
        "checklist",
        "victim_sheet",
    ]


def test_a_bundle_naming_a_document_twice_or_unknown_is_refused() -> None:
    memo = Document("cover_memo", "Cover memo")
    with pytest.raises(ValueError, match="twice"):
        chosen([memo, memo])
    with pytest.raises(ValueError, match="unknown"):
        chosen([Document("fax_cover", "Fax")])  # type: ignore[arg-type]


def test_a_complete_context_misses_nothing() -> None:
    assert missing_for_package(make_context()) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"official": None}, "requesting official"),
        ({"official": {"name": "Dana Whitfield", "phone": "555-0142"}}, "title"),
        ({"official": {"name": "Dana Whitfield", "title": "Det."}}, "phone number or email"),
        ({"case_number": ""}, "case number"),
        ({"person": {"full_name": "  "}}, "person's full name"),
        ({"narrative": "\x00 \n"}, "investigation summary"),
        ({"determination": None}, "no eligibility determination"),
        ({"answers": []}, "no recorded answers"),
        ({"victim_sheet": {"language": "es", "paragraphs": []}}, "victim information sheet"),
    ],
)
def test_each_missing_part_is_named(overrides: dict[str, Any], expected: str) -> None:
    missing = missing_for_package(make_context(**overrides))
    assert len(missing) == 1
    assert expected in missing[0]


def test_everything_missing_is_listed_at_once() -> None:
    ctx = make_context(official=None, narrative="", determination=None, answers=[])
    assert len(missing_for_package(ctx)) == 4


def test_a_document_left_out_asks_for_nothing() -> None:
    ctx = make_context(victim_sheet={"language": "en", "paragraphs": []})
    assert missing_for_package(ctx)
    documents = with_enabled(documents_for(ctx), "victim_sheet", False)
    assert missing_for_package(ctx, documents) == []


def _items(ctx: PackageContext) -> dict[str, bool]:
    return {item.id: item.done for item in checklist(ctx)}


def test_checklist_for_a_local_agency_awaiting_its_sponsor() -> None:
    items = _items(make_context())
    assert items["person_identified"]
    assert items["exploitation_described"]
    assert items["criterion_noncitizen"]
    assert items["criterion_severe_form"]
    assert items["criterion_witness_or_civil_action"]
    assert items["supervisor_approval"]
    assert items["federal_partner"]
    assert items["civil_action_recorded"]
    assert items["hhs_notified"]
    assert items["sponsor_endorsement"] is False
    assert items["t_visa_referral"] is False
    fixes = {i.id: i.fix for i in checklist(make_context())}
    assert "Federal partner" in fixes["sponsor_endorsement"]


def test_checklist_for_a_federal_agency_and_an_adult() -> None:
    data = context_data()
    determination = {**data["determination"], "actions": []}
    ctx = make_context(
        agency={"name": "HSI Cleveland", "level": "federal"},
        federal_partner=None,
        person={**data["person"], "date_of_birth": date(1994, 5, 1)},
        determination=determination,
        supervisor_approval=None,
        t_visa_referral_advised=True,
    )
    items = _items(ctx)
    assert "sponsor_endorsement" not in items
    assert "federal_partner" not in items
    assert "hhs_notified" not in items
    assert "t_visa_referral" not in items  # the engine did not advise it
    assert items["supervisor_approval"] is False


def test_checklist_flags_unmet_criteria_and_a_missing_hhs_notice() -> None:
    determination = context_data()["determination"]
    criteria = [
        {**c, "status": "unknown"} if c["id"] == "severe_form" else c
        for c in determination["criteria"]
    ]
    ctx = make_context(
        determination={**determination, "criteria": criteria},
        hhs_notified_on=None,
        trafficking_forms=[],
    )
    items = {item.id: item for item in checklist(ctx)}
    assert items["criterion_severe_form"].done is False
    assert items["criterion_severe_form"].detail == "Unknown"
    assert items["hhs_notified"].done is False
    assert items["exploitation_described"].done is False
