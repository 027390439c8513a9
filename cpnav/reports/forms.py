"""The dashboard's filters: a fiscal year (whole, one quarter, or dates chosen) and an agency."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Final

from django import forms
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import Agency
from cpnav.reports.fiscal import Period, recent_years

if TYPE_CHECKING:
    from cpnav.reports.services import Matches

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
        agencies: Sequence[Agency] | None,
        every_agency: bool,
        today: date,
        chosen: Agency | None = None,
        find: Callable[[str], Matches] | None = None,
    ) -> None:
        """``agencies`` are offered as a list; None means too many to list, and the
        agency is found by name or ORI with ``find``. ``chosen`` is the agency of the
        URL's ``agency`` (already checked to be one the user may report on)."""
        super().__init__(data)
        years = recent_years(today)
        self.fields["fiscal_year"].choices = [(y, f"FY{y}") for y in years]  # type: ignore[attr-defined]
        self.finder = agencies is None
        self.matches: Matches | None = None
        self._chosen = chosen
        self._find = find
        if agencies is not None:
            everyone = _("All agencies") if every_agency else _("All my agencies")
            self.fields["agency"].choices = [  # type: ignore[attr-defined]
                ("", everyone),
                *((str(a.pk), a.name) for a in agencies),
            ]
            self._agencies = {str(a.pk): a for a in agencies}
            return
        # Too many to list: the chosen agency rides along hidden, and a text field finds one.
        self.fields["agency"] = forms.CharField(required=False, widget=forms.HiddenInput)
        self.fields["find"] = forms.CharField(
            label=_("Agency (name or ORI)"),
            required=False,
            max_length=200,
            help_text=(
                _("Part of the agency's name, or its full ORI. Leave empty for all agencies.")
                if every_agency
                else _("Part of the agency's name, or its full ORI. Leave empty for all of yours.")
            ),
        )
        self._agencies = {str(chosen.pk): chosen} if chosen is not None else {}
        if "find" not in data and chosen is not None:
            # A link or download URL names the agency by id: show its name to edit.
            self.data = {**data, "find": chosen.name}

    def clean_find(self) -> str:
        text = " ".join(str(self.cleaned_data.get("find") or "").split())
        chosen = self._chosen
        if not text:
            self._agencies = {}  # emptied: every agency
            return text
        if chosen is not None and text.casefold() in (
            chosen.name.casefold(),
            chosen.ori.casefold(),
        ):
            return text  # still the agency already chosen
        assert self._find is not None
        matches = self._find(text)
        if matches.count == 0:
            raise forms.ValidationError(
                _("No agency you may report on has “%(text)s” in its name or as its ORI."),
                params={"text": text},
            )
        if matches.count == 1:
            found = matches.agencies[0]
            self._agencies = {str(found.pk): found}
            self.cleaned_data["agency"] = str(found.pk)
            return found.name
        self.matches = matches
        self._agencies = {}
        return text

    def choose_one(self) -> bool:
        """A search found several agencies: the user picks one before any figures."""
        return self.matches is not None

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

    def query(self, agency: Agency | None = None) -> dict[str, str]:
        """The filters as a URL names them (``agency=<id>``, never the search text)."""
        data = self.cleaned_data
        query = {"fiscal_year": str(data["fiscal_year"]), "period": data["period"]}
        if data["period"] == "custom":
            query.update(
                date_from=data["date_from"].isoformat(), date_to=data["date_to"].isoformat()
            )
        chosen = agency or self.chosen_agency()
        if chosen is not None:
            query["agency"] = str(chosen.pk)
        return query
