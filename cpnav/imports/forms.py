from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import Agency
from cpnav.imports import fields as F
from cpnav.imports.tables import MAX_BYTES, MAX_ROWS

NOT_IN_FILE = ""


class UploadForm(forms.Form):
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.none(),
        label=_("Agency"),
        help_text=_("The cases are created at this agency, with you as lead investigator."),
    )
    file = forms.FileField(
        label=_("CSV or Excel file"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.xlsx,text/csv,"
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )  # fmt: skip

    def __init__(self, *args: Any, agencies: Sequence[Agency], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["agency"]
        field.queryset = Agency.objects.filter(pk__in=[a.pk for a in agencies])  # type: ignore[attr-defined]
        if len(agencies) == 1:
            field.initial = agencies[0].pk
        self.fields["file"].help_text = gettext(
            'CSV saved as UTF-8 (in Excel: "CSV UTF-8"), or an Excel workbook (.xlsx); at most '
            "%(mb)d MB and %(rows)s rows."
        ) % {"mb": MAX_BYTES // 2**20, "rows": f"{MAX_ROWS:,}"}


class MappingForm(forms.Form):
    """One select per import field, offering the file's columns."""

    def __init__(
        self, *args: Any, columns: Sequence[str], mapping: Mapping[str, str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = [(NOT_IN_FILE, _("Not in the file")), *((c, c) for c in columns)]
        for field in F.FIELDS:
            self.fields[field.name] = forms.ChoiceField(
                label=field.label,
                choices=choices,
                required=field.required,
                help_text=field.help,
                initial=mapping.get(field.name, NOT_IN_FILE),
                error_messages={
                    "required": _("Choose the column that holds this; it is required.")
                },
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        seen: dict[str, str] = {}
        for field in F.FIELDS:
            column = data.get(field.name)
            if not column:
                continue
            if column in seen:
                self.add_error(
                    field.name,
                    _("The column %(column)s is already chosen for %(other)s.")
                    % {"column": column, "other": F.BY_NAME[seen[column]].label},
                )
            seen[column] = field.name
        return data

    def mapping(self) -> dict[str, str]:
        return {name: column for name, column in self.cleaned_data.items() if column}
