"""The public eligibility check, one step at a time.

Each step is its own form; answers from earlier steps travel in hidden fields,
so the check stores nothing and works without JavaScript or cookies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

YES_NO_UNKNOWN = [("", _("Not known yet")), ("yes", _("Yes")), ("no", _("No"))]


def tri(label: StrOrPromise, help_text: StrOrPromise = "") -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label, help_text=help_text, choices=YES_NO_UNKNOWN, required=False,
        widget=forms.RadioSelect,
    )  # fmt: skip


def listing(
    label: StrOrPromise, choices: list[tuple[str, Any]], help_text: StrOrPromise
) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label, help_text=help_text, choices=choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip


class RequesterStep(forms.Form):
    title = _("Who is asking")
    agency_level = forms.ChoiceField(
        label=_("Your agency's level"),
        required=False,
        choices=[("", _("Not known yet")), ("federal", _("Federal")), ("state", _("State")),
                 ("local", _("Local")), ("tribal", _("Tribal")), ("territorial", _("Territorial"))],
        widget=forms.RadioSelect,
    )  # fmt: skip
    federal_partner_engaged = tri(
        _("Are you already working with a federal partner on this case?"),
        _("For example the local HSI office. Only federal officials can submit a CP request."),
    )


class PersonStep(forms.Form):
    title = _("The person")
    citizenship = forms.ChoiceField(
        label=_("Citizenship"),
        required=False,
        choices=[("", _("Not known yet")), ("noncitizen", _("Not a U.S. citizen or permanent resident")),
                 ("us_citizen", _("U.S. citizen")),
                 ("lawful_permanent_resident", _("Lawful permanent resident"))],
        widget=forms.RadioSelect,
    )  # fmt: skip
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        required=False,
        help_text=_("If known. Format: YYYY-MM-DD."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    age_estimate = forms.IntegerField(
        label=_("Estimated age in years"),
        required=False,
        min_value=0,
        max_value=120,
        help_text=_("Only if the date of birth is not known."),
    )


MEANS = [("force", _("Force")), ("fraud", _("Fraud")), ("coercion", _("Coercion")),
         ("none", _("None of these was found"))]  # fmt: skip
PURPOSES = [("involuntary_servitude", _("Involuntary servitude")), ("peonage", _("Peonage")),
            ("debt_bondage", _("Debt bondage")), ("slavery", _("Slavery")),
            ("none", _("None of these was found"))]  # fmt: skip


class ExploitationStep(forms.Form):
    title = _("What happened")
    commercial_sex_act = tri(_("Was the person induced to perform a commercial sex act?"))
    under_18_at_time = tri(
        _("Was the person under 18 at the time?"),
        _("For a minor in sex trafficking, force, fraud or coercion need not be shown."),
    )
    labor_or_services = tri(
        _("Was the person recruited, harbored, transported or obtained for labor or services?")
    )
    means = listing(_("Means used"), MEANS, _("Leave all unchecked if this is not known yet."))
    purpose = listing(
        _("Purpose of the labor or services"),
        PURPOSES,
        _("Leave all unchecked if this is not known yet."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("means", "purpose"):
            if "none" in data.get(name, []) and len(data[name]) > 1:
                self.add_error(
                    name, _("Choose 'None of these was found' alone, or only the others.")
                )
        return data


class WitnessStep(forms.Form):
    title = _("Witness or civil action")
    potential_witness = tri(
        _("Is the person a potential witness in the investigation or prosecution?"),
        _(
            "Being a potential witness is not a promise to cooperate. CP is never conditioned on cooperation."
        ),
    )
    civil_action_1595_filed = tri(
        _("Has the person filed a civil action under 18 U.S.C. 1595?"),
    )
    as_of = forms.DateField(
        label=_("Date to assess on"),
        required=False,
        help_text=_("Leave empty for today."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )


STEPS: list[type[forms.Form]] = [RequesterStep, PersonStep, ExploitationStep, WitnessStep]


def _tri_value(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _list_value(values: list[str]) -> list[str] | None:
    if not values:
        return None
    return [] if values == ["none"] else list(values)


def facts_from(data: dict[str, Any]) -> dict[str, Any]:
    """Turn cleaned answers of every step into the policy engine's facts JSON."""
    facts: dict[str, Any] = {
        "requester": {
            "agency_level": data.get("agency_level") or None,
            "federal_partner_engaged": _tri_value(data.get("federal_partner_engaged", "")),
        },
        "person": {
            "citizenship": data.get("citizenship") or None,
            "date_of_birth": data["date_of_birth"].isoformat()
            if data.get("date_of_birth")
            else None,
            "age_estimate": data.get("age_estimate"),
        },
        "exploitation": {
            "commercial_sex_act": _tri_value(data.get("commercial_sex_act", "")),
            "labor_or_services": _tri_value(data.get("labor_or_services", "")),
            "means": _list_value(data.get("means", [])),
            "purpose": _list_value(data.get("purpose", [])),
            "under_18_at_time": _tri_value(data.get("under_18_at_time", "")),
        },
        "witness": {
            "potential_witness": _tri_value(data.get("potential_witness", "")),
            "civil_action_1595_filed": _tri_value(data.get("civil_action_1595_filed", "")),
        },
    }
    if data.get("as_of"):
        facts["as_of"] = data["as_of"].isoformat()
    return facts


# Where each JSON path of the facts lands on the form, to show engine errors in place.
FIELD_FOR_PATH = {
    "$.as_of": "as_of",
    "$.person.date_of_birth": "date_of_birth",
    "$.person.age_estimate": "age_estimate",
}
