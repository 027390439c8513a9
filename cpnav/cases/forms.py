from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import Agency, Level
from cpnav.cases.models import Case, Citizenship, CivilStatus, CriminalStatus, Form, Person
from cpnav.cases.services import SHARE_MAX_DAYS
from cpnav.check.forms import MEANS, PURPOSES, YES_NO_UNKNOWN

A_NUMBER_HELP = _("The letter A and 8 or 9 digits, for example A012345678.")
TEXT_LIMIT = 4000


class VersionedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class CaseForm(VersionedForm):
    agency = forms.ModelChoiceField(queryset=Agency.objects.none(), label=_("Owning agency"))
    case_number = forms.CharField(label=_("Case number"), max_length=60)
    trafficking_forms = forms.MultipleChoiceField(
        label=_("Trafficking forms"), choices=Form.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    federal_partner = forms.ModelChoiceField(
        queryset=Agency.objects.filter(level=Level.FEDERAL, is_ccht=False),
        required=False,
        label=_("Federal partner office"),
        help_text=_("State, local, tribal and territorial agencies need one to submit a request."),
    )
    criminal_status = forms.ChoiceField(
        label=_("Criminal case status"), choices=CriminalStatus.choices
    )
    civil_status = forms.ChoiceField(
        label=_("Civil action (18 U.S.C. 1595)"), choices=CivilStatus.choices
    )
    civil_court = forms.CharField(label=_("Court"), max_length=200, required=False)
    civil_number = forms.CharField(label=_("Civil case number"), max_length=80, required=False)
    civil_filed_on = forms.DateField(
        label=_("Filed on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, agencies: list[Agency], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = Agency.objects.filter(pk__in=[a.pk for a in agencies])  # type: ignore[attr-defined]
        if len(agencies) == 1:
            self.fields["agency"].initial = agencies[0].pk

    def clean_civil_filed_on(self) -> date | None:
        filed: date | None = self.cleaned_data.get("civil_filed_on")
        if filed and filed > date.today():
            raise forms.ValidationError(_("The filing date is in the future."))
        return filed


CASE_FIELDS = ["case_number", "trafficking_forms", "federal_partner", "criminal_status", "civil_status",
               "civil_court", "civil_number", "civil_filed_on"]  # fmt: skip


class PersonForm(VersionedForm):
    full_name = forms.CharField(label=_("Full name"), max_length=300)
    aliases = forms.CharField(
        label=_("Other names"), required=False, max_length=1000,
        help_text=_("One per line."), widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip
    date_of_birth = forms.DateField(
        label=_("Date of birth"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    age_estimate = forms.IntegerField(
        label=_("Estimated age"), required=False, min_value=0, max_value=120,
        help_text=_("Only if the date of birth is not known."),
    )  # fmt: skip
    citizenship = forms.ChoiceField(label=_("Citizenship"), choices=Citizenship.choices)
    country = forms.CharField(label=_("Country of citizenship"), max_length=80, required=False)
    languages = forms.CharField(
        label=_("Languages"), max_length=200, required=False, help_text=_("Separate with commas.")
    )
    interpreter_needed = forms.BooleanField(label=_("Needs an interpreter"), required=False)
    a_number = forms.RegexField(
        label=_("A-number"), regex=r"^[Aa]?-?\d{8,9}$", required=False, max_length=12,
        help_text=A_NUMBER_HELP,
        error_messages={"invalid": _("Enter the letter A and 8 or 9 digits, for example A012345678.")},
    )  # fmt: skip
    contact = forms.CharField(
        label=_("Contact details"), required=False, max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip
    do_not_contact = forms.BooleanField(label=_("Do not contact directly"), required=False)
    safe_contact = forms.CharField(
        label=_("Safe contact instructions"), required=False, max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip
    minor_identified_at = forms.DateTimeField(
        label=_("If the person may be under 18: when was that found?"),
        required=False,
        help_text=_(
            "Any official who finds a possible minor victim must notify HHS within 24 hours."
        ),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    hhs_notified_at = forms.DateTimeField(
        label=_("HHS notified at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    confirm_not_duplicate = forms.BooleanField(
        label=_("I checked: this is a different person"), required=False
    )

    def clean_date_of_birth(self) -> date | None:
        born: date | None = self.cleaned_data.get("date_of_birth")
        if born and born > date.today():
            raise forms.ValidationError(_("The date of birth is in the future."))
        if born and born.year < 1900:
            raise forms.ValidationError(_("Check the year of birth."))
        return born

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        digits = "".join(ch for ch in data.get("a_number") or "" if ch.isdigit())
        return {
            "full_name": data["full_name"].strip(),
            "aliases": [a.strip() for a in (data.get("aliases") or "").splitlines() if a.strip()],
            "date_of_birth": data["date_of_birth"].isoformat() if data.get("date_of_birth") else "",
            "age_estimate": data.get("age_estimate"),
            "citizenship": data["citizenship"],
            "country": data.get("country", "").strip(),
            "languages": [x.strip() for x in (data.get("languages") or "").split(",") if x.strip()],
            "interpreter_needed": bool(data.get("interpreter_needed")),
            "a_number": f"A{digits.zfill(9)}" if digits else "",
            "contact": data.get("contact", "").strip(),
            "do_not_contact": bool(data.get("do_not_contact")),
            "safe_contact": data.get("safe_contact", "").strip(),
            "minor_identified_at": data.get("minor_identified_at"),
            "hhs_notified_at": data.get("hhs_notified_at"),
        }


def person_initial(person: Person) -> dict[str, Any]:
    return {
        "version": person.version,
        "full_name": person.full_name,
        "aliases": "\n".join(person.aliases or []),
        "date_of_birth": person.date_of_birth or None,
        "age_estimate": person.age_estimate,
        "citizenship": person.citizenship,
        "country": person.country,
        "languages": ", ".join(person.languages or []),
        "interpreter_needed": person.interpreter_needed,
        "a_number": person.a_number,
        "contact": person.contact,
        "do_not_contact": person.do_not_contact,
        "safe_contact": person.safe_contact,
        "minor_identified_at": person.minor_identified_at,
        "hhs_notified_at": person.hhs_notified_at,
    }


def case_initial(case: Case) -> dict[str, Any]:
    return {
        "version": case.version,
        "agency": case.agency_id,
        **{name: getattr(case, name) for name in CASE_FIELDS if name != "federal_partner"},
        "federal_partner": case.federal_partner_id,
    }


def _tri(label: Any, help_text: Any = "") -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label, help_text=help_text, choices=YES_NO_UNKNOWN, required=False,
        widget=forms.RadioSelect,
    )  # fmt: skip


class RequestFactsForm(VersionedForm):
    """What the request says about the exploitation and the witness criterion."""

    commercial_sex_act = _tri(_("Was the person induced to perform a commercial sex act?"))
    under_18_at_time = _tri(_("Was the person under 18 at the time?"))
    labor_or_services = _tri(_("Was the person obtained for labor or services?"))
    means = forms.MultipleChoiceField(
        label=_("Means used"), choices=MEANS, required=False, widget=forms.CheckboxSelectMultiple
    )
    purpose = forms.MultipleChoiceField(
        label=_("Purpose of the labor or services"), choices=PURPOSES, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    potential_witness = _tri(
        _("Is the person a potential witness?"),
        _("This is not a promise to cooperate. CP is never conditioned on cooperation."),
    )
    civil_action_1595_filed = _tri(_("Has the person filed a civil action under 18 U.S.C. 1595?"))
    narrative = forms.CharField(
        label=_("Summary of the exploitation"), required=False, max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("In your words: what happened, and why the person may be a witness."),
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("means", "purpose"):
            if "none" in data.get(name, []) and len(data[name]) > 1:
                self.add_error(
                    name, _("Choose 'None of these was found' alone, or only the others.")
                )
        return data

    def facts(self) -> dict[str, Any]:
        from cpnav.check.forms import facts_from

        full = facts_from(self.cleaned_data)
        return {"exploitation": full["exploitation"], "witness": full["witness"]}


def facts_initial(facts: dict[str, Any]) -> dict[str, Any]:
    def word(value: Any) -> str:
        return {True: "yes", False: "no"}.get(value, "")

    exploitation = facts.get("exploitation") or {}
    witness = facts.get("witness") or {}

    def listing(value: Any) -> list[str]:
        if value is None:
            return []
        return list(value) or ["none"]

    return {
        "commercial_sex_act": word(exploitation.get("commercial_sex_act")),
        "under_18_at_time": word(exploitation.get("under_18_at_time")),
        "labor_or_services": word(exploitation.get("labor_or_services")),
        "means": listing(exploitation.get("means")),
        "purpose": listing(exploitation.get("purpose")),
        "potential_witness": word(witness.get("potential_witness")),
        "civil_action_1595_filed": word(witness.get("civil_action_1595_filed")),
    }


class TransitionForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), required=False, max_length=TEXT_LIMIT,
                              widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip
    information = forms.CharField(label=_("Information needed"), required=False, max_length=TEXT_LIMIT,
                                  widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip
    due_date = forms.DateField(
        label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    start_date = forms.DateField(label=_("Start date (from CCHT's notice)"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip
    end_date = forms.DateField(
        label=_("End date"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leave empty to use the term from the rules in force on the start date."),
    )  # fmt: skip


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File (PDF, image or Word document)"))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)


SHAREABLE = [("full_name", _("Full name")), ("aliases", _("Other names")),
             ("date_of_birth", _("Date of birth")), ("a_number", _("A-number")),
             ("contact", _("Contact details")), ("safe_contact", _("Safe contact instructions"))]  # fmt: skip


class ShareForm(forms.Form):
    grantee = forms.EmailField(label=_("Victim specialist's email address"), max_length=254)
    details = forms.MultipleChoiceField(
        label=_("Details they may see (the rest is redacted)"), choices=SHAREABLE,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    reason = forms.CharField(label=_("Why they need to know"), max_length=200)
    expires_on = forms.DateField(
        label=_("Share until"), widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("At most 90 days ahead."),
    )  # fmt: skip

    def clean_expires_on(self) -> date:
        day: date = self.cleaned_data["expires_on"]
        if day <= date.today():
            raise forms.ValidationError(_("Choose a date after today."))
        if day > date.today() + timedelta(days=SHARE_MAX_DAYS):
            raise forms.ValidationError(
                _("A share lasts at most %(n)d days.") % {"n": SHARE_MAX_DAYS}
            )
        return day
