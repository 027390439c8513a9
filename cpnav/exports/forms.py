from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cpnav.accounts import access
from cpnav.accounts.models import Agency, User
from cpnav.exports.tables import DATE_FIELDS, Dataset, Filters, may_export_identifying

DATE = forms.DateInput(attrs={"type": "date"})
IDENTIFYING_WARNING = _(
    "The file will hold victims' names, other names, dates of birth, A-numbers and contact "
    "details. Store it only where your agency's policy allows, share it with no one who is not "
    "on the case, and delete it when you no longer need it."
)


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        label=_("File format"),
        choices=[
            ("csv", _("CSV (opens in any spreadsheet program)")),
            ("xlsx", _("Excel workbook (XLSX)")),
        ],
        initial="csv",
        widget=forms.RadioSelect,
    )
    agency = forms.ModelChoiceField(
        label=_("Agency"),
        queryset=Agency.objects.none(),
        required=False,
        empty_label=_("Every agency I can see"),
    )
    status = forms.ChoiceField(label=_("Status"), required=False, choices=())
    date_field = forms.ChoiceField(
        label=_("Dates apply to"), required=False, choices=(), widget=forms.RadioSelect
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=DATE, help_text=_("On or after this day (UTC).")
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=DATE, help_text=_("On or before this day (UTC).")
    )
    include_identifying = forms.BooleanField(
        label=_("Include identifying fields"),
        required=False,
        help_text=_(
            "Only for rows of cases where you are on the case team or supervise the agency; "
            "other rows say [redacted]. The export is recorded in the audit log."
        ),
    )

    def __init__(self, *args: Any, user: User, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        agency: Any = self.fields["agency"]
        agency.queryset = access.user_agencies(user).order_by("name")
        status: Any = self.fields["status"]
        status.choices = [("", _("Any status")), *dataset.statuses]
        if len(dataset.date_fields) > 1:
            dates: Any = self.fields["date_field"]
            dates.choices = [(name, DATE_FIELDS[name]) for name in dataset.date_fields]
            dates.initial = dataset.date_fields[0]
        else:
            del self.fields["date_field"]
            self.fields["date_from"].label = _("%(what)s on or after") % {
                "what": DATE_FIELDS[dataset.date_fields[0]]
            }
            self.fields["date_to"].label = _("%(what)s on or before") % {
                "what": DATE_FIELDS[dataset.date_fields[0]]
            }
        if dataset.name == "deadlines":
            self.fields["date_from"].help_text = _("In the agency's time zone.")
            self.fields["date_to"].help_text = _("In the agency's time zone.")
        if not (dataset.person and may_export_identifying(user)):
            del self.fields["include_identifying"]

    @property
    def offers_identifying(self) -> bool:
        return "include_identifying" in self.fields

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            agency=data.get("agency"),
            date_field=data.get("date_field") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            status=data.get("status") or "",
        )
