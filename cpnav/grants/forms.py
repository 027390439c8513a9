from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cpnav.grants.models import EndKind, TVisaStatus

DATE = forms.DateInput(attrs={"type": "date"})


class TrackingForm(forms.Form):
    work_permit_received_on = forms.DateField(
        label=_("Work permit received"), required=False, widget=DATE
    )
    work_permit_expires_on = forms.DateField(
        label=_("Work permit expires"), required=False, widget=DATE
    )
    dhs_notified_hhs_on = forms.DateField(
        label=_("DHS notified HHS on"), required=False, widget=DATE
    )
    hhs_letter_on = forms.DateField(
        label=_("HHS certification letter dated"), required=False, widget=DATE
    )
    t_visa_status = forms.ChoiceField(label=_("T visa"), choices=TVisaStatus.choices)
    t_visa_referred_on = forms.DateField(
        label=_("Referred to immigration counsel on"), required=False, widget=DATE
    )
    t_visa_filed_on = forms.DateField(label=_("T visa filed on"), required=False, widget=DATE)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class EndForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What happened"), choices=EndKind.choices, widget=forms.RadioSelect
    )
    effective_on = forms.DateField(label=_("From"), widget=DATE)
    reason = forms.CharField(
        label=_("Why"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
