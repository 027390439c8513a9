"""Load the national providers named in the domain facts (shared/domain/continued-presence.md).

Only facts from that file are used. It gives no opening hours, languages or web
addresses for these lines, so none are invented: hours point to the provider.
"""

from django.db import migrations

SEE_WEBSITE = "See the provider's website"

NATIONAL = [
    {
        "key": "ice-vesl",
        "name": "ICE Victim Engagement and Services Line (VESL)",
        "services": ["hotline"],
        "phone": "18333831465",
        "notes": (
            "ICE's line for victims. It started on 11 June 2021 and took over from the "
            "earlier VOICE line."
        ),
        "source": "ICE news release of 30 July 2021 (domain facts, section 5) [confirmed]",
    },
    {
        "key": "nhth",
        "name": "National Human Trafficking Hotline",
        "services": ["hotline"],
        "phone": "18883737888",
        "notes": (
            "U.S. citizens and lawful permanent residents do not need Continued Presence or "
            "an HHS letter: they can reach services directly, for example through this hotline."
        ),
        "source": (
            "ICE news release of 30 July 2021; HHS OTIP eligibility-letters page "
            "(domain facts, sections 2 and 5) [confirmed]"
        ),
    },
    {
        "key": "hhs-otip",
        "name": "HHS Office on Trafficking in Persons (OTIP)",
        "services": ["benefits"],
        "phone": "8664015510",
        "notes": (
            "Adults with Continued Presence can receive an HHS Certification Letter, which "
            "opens benefits to the same extent as refugees. OTIP usually acts within a few "
            "days of DHS telling it about the grant. Requests go through HHS's Shepherd system."
        ),
        "source": "ACF/ORR certification fact sheet (domain facts, section 4) [confirmed]",
    },
    {
        "key": "hhs-otip-child-protection",
        "name": "HHS OTIP Child Protection Specialists",
        "services": ["benefits"],
        "phone": "2022054582",
        "notes": (
            "For foreign nationals under 18: Interim Assistance Letters and Eligibility "
            "Letters, with no Continued Presence and no cooperation needed. Any federal, state "
            "or local official who finds that someone under 18 may be a trafficking victim must "
            "notify HHS within 24 hours (22 U.S.C. 7105(b)(1)(G)). Ask before the person turns "
            "18. Requests go through HHS's Shepherd system."
        ),
        "source": (
            "HHS OTIP pages; 122 Stat. 5064 (TVPRA 2008) (domain facts, section 4) [confirmed]"
        ),
    },
]


def load(apps, schema_editor):
    Provider = apps.get_model("referrals", "Provider")
    for entry in NATIONAL:
        Provider.objects.update_or_create(
            key=entry["key"],
            defaults={
                **entry,
                "kind": "national",
                "jurisdiction": "Nationwide",
                "state": "",
                "languages": [],
                "hours": SEE_WEBSITE,
                "active": True,
            },
        )


def unload(apps, schema_editor):
    Provider = apps.get_model("referrals", "Provider")
    Provider.objects.filter(key__in=[entry["key"] for entry in NATIONAL]).delete()


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
