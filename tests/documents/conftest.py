"""A realistic, entirely invented request: a local agency, a minor, a civil action.

The determination comes from the real policy engine, so the package is tested
against the JSON contract the cases app stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from cpnav.documents.package import PackageContext
from cpnav.policy.engine import determine
from cpnav.policy.facts import parse_facts

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "cpnav" / "documents" / "templates"
ARABIC_NAME = "مريم يوسف الحداد"
GENERATED_AT = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="module")
def package_templates() -> Iterator[None]:
    """Until cpnav.documents is an installed app, APP_DIRS does not find its
    templates; point the engine at them for these tests only. Module scope, so
    that a module can render a package once and read it back in many tests."""
    if "cpnav.documents" in settings.INSTALLED_APPS:
        yield
        return
    templates: list[dict[str, Any]] = [dict(t) for t in settings.TEMPLATES]
    templates[0]["DIRS"] = [*templates[0].get("DIRS", []), TEMPLATES_DIR]
    # override_settings fires setting_changed, which rebuilds the template engines.
    with override_settings(TEMPLATES=templates):
        yield


def determination_json() -> dict[str, Any]:
    facts = parse_facts(
        {
            "as_of": "2026-11-30",
            "requester": {"agency_level": "local", "federal_partner_engaged": True},
            "person": {"citizenship": "noncitizen", "date_of_birth": "2010-04-17"},
            "exploitation": {
                "commercial_sex_act": True,
                "labor_or_services": True,
                "means": ["fraud", "coercion"],
                "purpose": ["debt_bondage"],
                "under_18_at_time": True,
            },
            "witness": {"potential_witness": True, "civil_action_1595_filed": True},
        }
    )
    return determine(facts).to_json()


ANSWERS: list[dict[str, Any]] = [
    {
        "title": "The person",
        "rows": [
            {"label": "Is the person a U.S. citizen or permanent resident?", "value": "No"},
            {"label": "Date of birth", "value": "2010-04-17"},
            {"label": "Country of citizenship", "value": "Syria"},
        ],
    },
    {
        "title": "The exploitation",
        "rows": [
            {"label": "Was a commercial sex act involved?", "value": "Yes"},
            {"label": "Was the person made to provide labor or services?", "value": "Yes"},
            {"label": "Means used", "value": "Fraud; coercion"},
            {
                "label": "Purpose of the labor or services",
                "value": "Debt bondage: a recruitment fee of $4,800 was to be worked off",
            },
            {"label": "Was the person under 18 at the time?", "value": "Yes"},
        ],
    },
    {
        "title": "Witness and civil action",
        "rows": [
            {"label": "Is the person a potential witness?", "value": "Yes"},
            {"label": "Has a civil action under 18 U.S.C. 1595 been filed?", "value": "Yes"},
        ],
    },
]

NARRATIVE = (
    "On 2026-11-02 patrol officers found the person working without pay at a nail salon "
    "on Route 9 after a tip to the National Human Trafficking Hotline.\n\n"
    "The owner had recruited her abroad with a promise of school and a paid job, kept her "
    "passport, and told her she owed a recruitment fee she could never pay off. She was "
    "also made to see men at the owner's apartment.\n\n"
    "Two suspects have been identified; the investigation continues with the HSI "
    "Cleveland field office."
)

SHEET_ES = [
    "¿Qué es la Presencia Continuada? Es un permiso temporal para quedarse en los "
    "Estados Unidos mientras dura la investigación.",
    "No tiene que ayudar a la policía para recibirla. Puede llamar a la Línea Nacional "
    "contra la Trata de Personas: 1-888-373-7888.",
]


def context_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "reference": "CP-1A2B3C4D",
        "generated_at": GENERATED_AT,
        "generated_by": {"name": "Dana Whitfield", "title": "Detective"},
        "kind": "initial",
        "agency": {
            "name": "Lakeview County Sheriff's Office",
            "level": "local",
            "ori": "OH0180000",
        },
        "official": {
            "name": "Dana Whitfield",
            "title": "Detective, Special Victims Unit",
            "phone": "555-0142",
            "email": "d.whitfield@lakeview.example",
        },
        "federal_partner": {"office": "HSI Cleveland", "sponsor_name": "SA Jordan Okafor"},
        "case_number": "LCSO-2026-004512",
        "trafficking_forms": ["sex", "labor"],
        "criminal_status": "investigating",
        "civil_action": {
            "status": "pending",
            "court": "U.S. District Court, N.D. Ohio",
            "number": "1:26-cv-02291",
            "filed_on": date(2026, 11, 20),
        },
        "person": {
            "full_name": ARABIC_NAME,
            "other_names": ["Maryam Haddad", "Mimi"],
            "date_of_birth": date(2010, 4, 17),
            "citizenship": "noncitizen",
            "country": "Syria",
            "languages": ["Arabic", "Spanish"],
            "interpreter_needed": True,
            "a_number": "A-212-345-678",
            "do_not_contact": True,
            "safe_contact": "Through the victim advocate, Ana Ruiz, 555-0199; never at the salon.",
        },
        "narrative": NARRATIVE,
        "answers": ANSWERS,
        "determination": determination_json(),
        "supervisor_approval": {
            "name": "Lt. Carla Benton",
            "title": "Supervisor, Special Victims Unit",
            "approved_on": date(2026, 11, 30),
            "comment": "Approved; send to HSI today.",
        },
        "sponsor_endorsement": None,
        "decisions": [],
        "victim_sheet": {"language": "es", "paragraphs": SHEET_ES},
        "supplement_b_draft": True,
        "hhs_notified_on": date(2026, 11, 2),
        "t_visa_referral_advised": False,
    }
    data.update(overrides)
    return data


def make_context(**overrides: Any) -> PackageContext:
    return PackageContext.model_validate(context_data(**overrides))


@pytest.fixture
def ctx() -> PackageContext:
    return make_context()
