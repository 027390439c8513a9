"""Forms for the engagement pages. Types and required fields are checked here;
the rules (times ahead and real, places, one place per address) in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import JURISDICTIONS, Agency
from cpnav.engagement import services
from cpnav.engagement.attendance import MAX_BYTES
from cpnav.engagement.models import Audience, Registration, Session, Topic
from cpnav.engagement.times import US_TIME_ZONES

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
ZONE_CHOICES = [("", _("Choose a time zone")), *US_TIME_ZONES]


class AgencyChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Agency) -> str:
        return obj.name


class _AgencyForm(forms.Form):
    """An agency: one of the signed-in user's, or a name typed by someone without an account."""

    agency = AgencyChoice(
        label=_("Your agency"), queryset=Agency.objects.none(), required=False,
        empty_label=_("Another agency (type its name below)"),
    )  # fmt: skip
    agency_name = forms.CharField(label=_("Agency name"), max_length=200, required=False)

    def __init__(self, *args: Any, agencies: QuerySet[Agency] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if agencies is None:
            del self.fields["agency"]
            self.fields["agency_name"].required = True
        else:
            self.fields["agency"].queryset = agencies  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("agency") and not data.get("agency_name", "").strip():
            self.add_error("agency_name", _("Give your agency's name."))
        return data

    def agency_and_name(self) -> tuple[Agency | None, str]:
        agency = self.cleaned_data.get("agency")
        return agency, agency.name if agency else self.cleaned_data["agency_name"]


class MeetingRequestForm(_AgencyForm):
    contact_name = forms.CharField(label=_("Your name"), max_length=200)
    contact_email = forms.EmailField(label=_("Your work email"), max_length=254)
    contact_phone = forms.CharField(label=_("Work phone"), max_length=40, required=False)
    jurisdiction = forms.ChoiceField(
        label=_("State or territory"), choices=[("", _("Choose")), *JURISDICTIONS]
    )
    jurisdiction_detail = forms.CharField(
        label=_("City, county or tribal area"), max_length=200,
        help_text=_("The area your agency serves."),
    )  # fmt: skip
    audience = forms.MultipleChoiceField(
        label=_("Who would attend"), choices=Audience.choices, widget=forms.CheckboxSelectMultiple
    )
    audience_size = forms.IntegerField(
        label=_("About how many people"), min_value=1, max_value=services.MAX_AUDIENCE
    )
    topics = forms.MultipleChoiceField(
        label=_("Topics"), choices=Topic.choices, widget=forms.CheckboxSelectMultiple,
        required=False,
    )  # fmt: skip
    topics_other = forms.CharField(label=_("Other topics"), max_length=500, required=False)
    preferred_1 = forms.DateField(label=_("Preferred date"), widget=DATE)
    preferred_2 = forms.DateField(label=_("Second choice of date"), widget=DATE, required=False)
    preferred_3 = forms.DateField(label=_("Third choice of date"), widget=DATE, required=False)
    preferred_time = forms.ChoiceField(
        label=_("Time of day"),
        choices=[("morning", _("Morning")), ("afternoon", _("Afternoon")), ("any", _("Any time"))],
        widget=forms.RadioSelect,
        initial="any",
    )
    time_zone = forms.ChoiceField(label=_("Your time zone"), choices=ZONE_CHOICES)
    accessibility_needs = forms.CharField(
        label=_("Accessibility needs"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example captions, a sign language interpreter, or materials in advance."),
    )  # fmt: skip
    language_needs = forms.CharField(
        label=_("Language needs"), required=False, max_length=200,
        help_text=_("For example a Spanish-language session."),
    )  # fmt: skip

    field_order = ["contact_name", "contact_email", "contact_phone", "agency", "agency_name"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("topics") and not data.get("topics_other", "").strip():
            self.add_error("topics", _("Choose a topic, or describe one under other topics."))
        return data

    def to_input(self) -> services.MeetingInput:
        data = self.cleaned_data
        agency, agency_name = self.agency_and_name()
        dates = [data[n] for n in ("preferred_1", "preferred_2", "preferred_3") if data.get(n)]
        return services.MeetingInput(
            contact_name=data["contact_name"], contact_email=data["contact_email"],
            contact_phone=data["contact_phone"], agency=agency,
            agency_name=agency_name,
            jurisdiction=data["jurisdiction"], jurisdiction_detail=data["jurisdiction_detail"],
            audience=data["audience"], audience_size=data["audience_size"],
            topics=data["topics"], topics_other=data["topics_other"], preferred_dates=dates,
            preferred_time=data["preferred_time"], time_zone=data["time_zone"],
            accessibility_needs=data["accessibility_needs"],
            language_needs=data["language_needs"],
        )  # fmt: skip


# Where a service's field error belongs on each form.
MEETING_FIELDS = {"preferred_dates": "preferred_1"}
SESSION_FIELDS = {"times": "day_1", "choice": "choice"}


def place_errors(
    form: forms.Form, error: services.EngagementError, aliases: dict[str, str]
) -> None:
    for name, message in error.errors.items():
        target = aliases.get(name, name)
        form.add_error(target if target in form.fields else None, message)


class VersionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class AcceptForm(VersionForm):
    note = forms.CharField(
        label=_("Message to the requester"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip


class DeclineForm(VersionForm):
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Sent to the requester. Suggest what they can do instead."),
    )  # fmt: skip


class ProposeForm(VersionForm):
    time_zone = forms.ChoiceField(label=_("Time zone of these times"), choices=ZONE_CHOICES)
    day_1 = forms.DateField(label=_("First date"), widget=DATE)
    at_1 = forms.TimeField(label=_("First time"), widget=TIME)
    day_2 = forms.DateField(label=_("Second date"), widget=DATE, required=False)
    at_2 = forms.TimeField(label=_("Second time"), widget=TIME, required=False)
    day_3 = forms.DateField(label=_("Third date"), widget=DATE, required=False)
    at_3 = forms.TimeField(label=_("Third time"), widget=TIME, required=False)
    note = forms.CharField(
        label=_("Message to the requester"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for n in (2, 3):
            if bool(data.get(f"day_{n}")) != bool(data.get(f"at_{n}")):
                self.add_error(f"day_{n}", _("Give both a date and a time, or neither."))
        return data

    def times(self) -> list[services.LocalTime]:
        data = self.cleaned_data
        return [
            services.LocalTime(data[f"day_{n}"], data[f"at_{n}"])
            for n in (1, 2, 3)
            if data.get(f"day_{n}") and data.get(f"at_{n}")
        ]


class SessionChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Session) -> str:
        start = services.local_start(obj)
        return f"{obj.title} - {start:%Y-%m-%d %H:%M} ({obj.time_zone})"


class LinkForm(VersionForm):
    session = SessionChoice(label=_("Session"), queryset=Session.objects.none())

    def __init__(self, *args: Any, sessions: QuerySet[Session], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = sessions  # type: ignore[attr-defined]


class ChooseForm(VersionForm):
    choice = forms.TypedChoiceField(
        label=_("Which time suits you?"), coerce=int, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, times: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["choice"].choices = times  # type: ignore[attr-defined]


class WithdrawForm(VersionForm):
    note = forms.CharField(
        label=_("Reason (optional)"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip


class SessionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )  # fmt: skip
    topics = forms.MultipleChoiceField(
        label=_("Topics"), choices=Topic.choices, widget=forms.CheckboxSelectMultiple
    )
    day = forms.DateField(label=_("Date"), widget=DATE)
    at = forms.TimeField(label=_("Start time"), widget=TIME, help_text=_("24-hour clock."))
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=ZONE_CHOICES)
    duration_minutes = forms.IntegerField(
        label=_("Length in minutes"), initial=60, min_value=15, max_value=480
    )
    capacity = forms.IntegerField(
        label=_("Places"), min_value=1, max_value=services.MAX_CAPACITY,
        help_text=_("When the places are taken, new registrations join a waiting list."),
    )  # fmt: skip
    meeting_link = forms.CharField(
        label=_("Meeting link"), max_length=500,
        help_text=_("https:// address. Shown only to people holding a place."),
    )  # fmt: skip
    presenters = forms.CharField(label=_("Presenters"), required=False, max_length=500)
    materials = forms.MultipleChoiceField(
        label=_("Materials (resource guide pages)"), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Linked in the invitation and sent with the follow-up."),
    )  # fmt: skip
    is_public = forms.BooleanField(
        label=_("List it on the public engagement page"), required=False, initial=True,
        help_text=_("Leave unticked for a session arranged for one agency; share its link."),
    )  # fmt: skip
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["materials"].choices = services.material_choices()  # type: ignore[attr-defined]

    def to_input(self) -> services.SessionInput:
        data = self.cleaned_data
        return services.SessionInput(
            title=data["title"], day=data["day"], at=data["at"], time_zone=data["time_zone"],
            duration_minutes=data["duration_minutes"], capacity=data["capacity"],
            meeting_link=data["meeting_link"].strip(), topics=data["topics"],
            description=data["description"], materials=data["materials"],
            presenters=data["presenters"], is_public=data["is_public"],
        )  # fmt: skip


def session_initial(session: Session) -> dict[str, Any]:
    values = vars(services.session_input(session)).copy()
    values["version"] = session.version
    return values


class CancelSessionForm(VersionForm):
    reason = forms.CharField(
        label=_("Reason, sent to everyone registered"), max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip


class RegistrationForm(_AgencyForm):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    email = forms.EmailField(
        label=_("Work email"), max_length=254,
        help_text=_("The invitation and the meeting link are sent here."),
    )  # fmt: skip
    field_order = ["full_name", "email", "agency", "agency_name"]

    def to_registrant(self) -> services.Registrant:
        agency, agency_name = self.agency_and_name()
        return services.Registrant(
            full_name=self.cleaned_data["full_name"], email=self.cleaned_data["email"],
            agency=agency, agency_name=agency_name,
        )  # fmt: skip


ATTENDANCE_CHOICES = [("", _("Not recorded")), ("yes", _("Attended")), ("no", _("Did not attend"))]


class AttendanceForm(forms.Form):
    """One yes/no/unknown choice per registration held."""

    def __init__(self, *args: Any, registrations: list[Registration], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.registrations = registrations
        for registration in registrations:
            initial = {True: "yes", False: "no", None: ""}[registration.attended]
            self.fields[f"r_{registration.pk}"] = forms.ChoiceField(
                label=f"{registration.full_name} ({registration.email})",
                choices=ATTENDANCE_CHOICES, required=False, initial=initial,
            )  # fmt: skip

    def marks(self) -> dict[Any, bool | None]:
        values = {"yes": True, "no": False, "": None}
        return {r.pk: values[self.cleaned_data[f"r_{r.pk}"]] for r in self.registrations}


class AttendanceImportForm(forms.Form):
    file = forms.FileField(
        label=_("Attendance list (CSV)"),
        help_text=_(
            'A header row with an "email" column and, optionally, an "attended" column '
            "(yes or no). Nothing is saved unless every row is right."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 MB."))
        return upload


class FollowUpForm(forms.Form):
    include_absent = forms.BooleanField(
        label=_("Also send it to people registered who did not attend"), required=False
    )
    note = forms.CharField(
        label=_("Message"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )  # fmt: skip
