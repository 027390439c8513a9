"""The dashboard's filters: a fiscal year (whole, one quarter, or dates chosen) and an agency."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Final

from django import forms
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import Agency
from cpnav.reports.fiscal import Period, recent_years

DATE = forms.DateInput(attrs={"type": "date"})
# Long enough for any comparison a program review needs; short enough to stay cheap.
MAX_CUSTOM_DAYS: Final = 366 * 10
PERIODS: Final = [
    ("year", _("The whole fiscal year")),
    ("q1", _("Quarter 1 (October to December)")),
    ("q2", _("Quarter 2 (January to March)")),
    ("q3", _("Quarter 3 (April to June)")),
    ("q4", _("Quarter 4 (July to September)")),
    ("custom", _("Dates I choose")),
]


class ReportFilterForm(forms.Form):
    fiscal_year = forms.TypedChoiceField(label=_("Fiscal year"), coerce=int)
    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, widget=forms.RadioSelect)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=DATE,
        help_text=_("With “Dates I choose”: the first day counted."),
    )  # fmt: skip
    date_to = forms.DateField(
        label=_("To"), required=False, widget=DATE,
        help_text=_("With “Dates I choose”: the last day counted."),
    )  # fmt: skip
    agency = forms.ChoiceField(label=_("Agency"), required=False)

    def __init__(
        self,
        data: dict[str, Any],
        *,
        agencies: Sequence[Agency],
        every_agency: bool,
        today: date,
    ) -> None:
        super().__init__(data)
        years = recent_years(today)
        self.fields["fiscal_year"].choices = [(y, f"FY{y}") for y in years]  # type: ignore[attr-defined]
        everyone = _("All agencies") if every_agency else _("All my agencies")
        self.fields["agency"].choices = [  # type: ignore[attr-defined]
            ("", everyone),
            *((str(a.pk), a.name) for a in agencies),
        ]
        self._agencies = {str(a.pk): a for a in agencies}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("period") == "custom":
            start, end = data.get("date_from"), data.get("date_to")
            if start is None:
                self.add_error(
                    "date_from", _("Give the first day, or choose a whole year or quarter.")
                )
            if end is None:
                self.add_error(
                    "date_to", _("Give the last day, or choose a whole year or quarter.")
                )
            if start is not None and end is not None:
                if end < start:
                    self.add_error("date_to", _("The last day is before the first day."))
                elif end - start > timedelta(days=MAX_CUSTOM_DAYS):
                    self.add_error("date_to", _("Choose ten years or less."))
        return data

    def chosen_period(self) -> Period:
        data = self.cleaned_data
        choice = data["period"]
        if choice == "custom":
            return Period.custom(data["date_from"], data["date_to"])
        if choice == "year":
            return Period.year(data["fiscal_year"])
        return Period.fiscal_quarter(data["fiscal_year"], int(choice[1]))

    def chosen_agency(self) -> Agency | None:
        return self._agencies.get(self.cleaned_data.get("agency") or "")
