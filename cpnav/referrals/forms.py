from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import Agency
from cpnav.referrals.importer import MAX_BYTES
from cpnav.referrals.models import US_STATES, Provider, ReferralStatus, Service
from cpnav.referrals.services import NOTE_LIMIT, national_first

DATE = forms.DateInput(attrs={"type": "date"})
CONSENT_REQUIRED = _(
    "Tick this only when the person has agreed to the referral. Without their agreement, "
    "no referral is made."
)


class DirectorySearchForm(forms.Form):
    text = forms.CharField(label=_("Name, place or keyword"), required=False, max_length=100)
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Any state")), *[(s, s) for s in sorted(US_STATES)]],
    )
    service = forms.ChoiceField(
        label=_("Service"), required=False, choices=[("", _("Any service")), *Service.choices]
    )
    language = forms.CharField(label=_("Language"), required=False, max_length=40)


class ProviderChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Provider) -> str:
        return f"{obj.name} ({obj.jurisdiction})"


class ReferralForm(forms.Form):
    provider = ProviderChoice(queryset=Provider.objects.none(), label=_("Provider"))
    services = forms.MultipleChoiceField(
        label=_("Services to refer for"),
        choices=Service.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only services the provider offers."),
    )
    follow_up_on = forms.DateField(
        label=_("Follow up on"),
        required=False,
        widget=DATE,
        help_text=_("Appears on the deadlines list until the referral is completed or declined."),
    )
    consent = forms.BooleanField(
        label=_("The person agreed to this referral"),
        error_messages={"required": CONSENT_REQUIRED},
        help_text=_(
            "Services never depend on cooperating with the investigation; say so when you ask."
        ),
    )
    consent_note = forms.CharField(
        label=_("How the person agreed"),
        required=False,
        max_length=NOTE_LIMIT,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: verbally, through an interpreter. No names."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queryset: QuerySet[Provider] = national_first(Provider.objects.filter(active=True))
        self.fields["provider"].queryset = queryset  # type: ignore[attr-defined]


class StatusForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    status = forms.ChoiceField(label=_("New status"), choices=())
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=NOTE_LIMIT,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("No names."),
    )

    def __init__(self, *args: Any, statuses: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(ReferralStatus.choices)
        self.fields["status"].choices = [(s, labels[s]) for s in statuses]  # type: ignore[attr-defined]


class FollowUpForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    follow_up_on = forms.DateField(
        label=_("Follow up on"), required=False, widget=DATE, help_text=_("Empty for none.")
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_('UTF-8 (in Excel: "CSV UTF-8"), at most 2 MB.'),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.none(),
        label=_("Listed by"),
        required=False,
        help_text=_("Rows update providers your agency imported before (same name and area)."),
    )
    dry_run = forms.BooleanField(
        label=_("Check only: report problems, write nothing"), required=False
    )

    def __init__(
        self, *args: Any, agencies: QuerySet[Agency], system_admin: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["agency"]
        field.queryset = agencies  # type: ignore[attr-defined]
        field.required = not system_admin
        if system_admin:
            field.empty_label = _("No agency (shared list)")  # type: ignore[attr-defined]
        elif agencies.count() == 1:
            field.initial = agencies.first()

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB; split it."))
        return upload
