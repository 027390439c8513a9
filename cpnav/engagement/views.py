"""Engagement pages: the public listing and forms, the requester's and attendee's
pages, and the coordinators' queue. Views parse input, call a service, render."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.core import antispam
from cpnav.engagement import attendance, calendar, services
from cpnav.engagement.forms import (
    MEETING_FIELDS,
    SESSION_FIELDS,
    AcceptForm,
    AttendanceForm,
    AttendanceImportForm,
    CancelSessionForm,
    ChooseForm,
    DeclineForm,
    FollowUpForm,
    LinkForm,
    MeetingRequestForm,
    ProposeForm,
    RegistrationForm,
    SessionForm,
    WithdrawForm,
    place_errors,
    session_initial,
)
from cpnav.engagement.models import (
    COORDINATOR_MOVES,
    MeetingRequest,
    Registration,
    RegistrationStatus,
    RequestStatus,
    Session,
    SessionStatus,
)
from cpnav.engagement.times import zone

STALE = _("Someone changed this since you opened the page. Here is the latest; try again.")


def _user(request: HttpRequest) -> User | None:
    return access.signed_in(request.user)


def _coordinator(request: HttpRequest) -> User:
    user = _user(request)
    if user is None or not access.is_engagement_coordinator(user):
        raise access.forbidden(request, "engagement coordination")
    return user


def _refused(request: HttpRequest, form: forms.Form, scope: str, text: list[str]) -> int:
    """The anti-abuse checks for someone without an account: 0, or the status of the refusal
    (the error is on the form, and the form keeps what was typed)."""
    if _user(request) is not None:
        return 0
    wait = antispam.too_many(request, scope)
    if wait is not None:
        form.add_error(None, _("Too many forms were sent from your network. Try again in "
                               "%(n)d minutes.") % {"n": wait // 60 + 1})  # fmt: skip
        return 429
    reason = antispam.refusal(request, text)
    if reason is not None:
        form.add_error(None, reason)
        return 400
    return 0


# --- Public ---------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "engagement/home.html",
        {
            "sessions": services.upcoming_public(),
            "coordinator": user is not None and access.is_engagement_coordinator(user),
        },
    )


def request_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    agencies = services.requester_agencies(user) if user is not None else None
    initial: dict[str, Any] = (
        {"contact_name": user.full_name, "contact_email": user.email} if user else {}
    )
    if user is not None and agencies is not None and agencies.exists():
        first = agencies.first()
        assert first is not None
        initial["agency"] = first.pk
        initial["jurisdiction"] = first.state
        initial["time_zone"] = first.time_zone
    form = MeetingRequestForm(request.POST or None, agencies=agencies, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        free = [form.cleaned_data[n] for n in ("topics_other", "accessibility_needs")]
        status = _refused(request, form, "meeting-request", free)
        if not status:
            try:
                meeting, token = services.submit_request(request, user, form.to_input())
            except services.EngagementError as error:
                place_errors(form, error, MEETING_FIELDS)
            else:
                messages.success(
                    request,
                    _("Request %(ref)s sent. An engagement coordinator will reply by email.")
                    % {"ref": meeting.reference},
                )
                if user is not None:
                    return redirect("engagement:request", request_id=meeting.pk)
                messages.info(request, _("Keep this page's address to follow your request."))
                return redirect("engagement:request_status", token=token)
    return render(request, "engagement/request_form.html", {"form": form}, status=status or 200)


def _requester_actions(
    request: HttpRequest, meeting: MeetingRequest, actor: User | None, here: str
) -> tuple[HttpResponse | None, dict[str, Any]]:
    """The requester's choices: take an offered time, or withdraw. Shared by both pages."""
    times = [
        (i, f"{t:%A %d %B %Y, %H:%M} ({t.tzname()})")
        for i, t in enumerate(services.proposed(meeting))
    ]
    initial = {"version": meeting.version}
    choose = ChooseForm(initial=initial, times=times, auto_id="choose_%s")
    withdraw = WithdrawForm(initial=initial, auto_id="withdraw_%s")
    if request.method == "POST":
        try:
            if request.POST.get("form") == "choose":
                choose = ChooseForm(request.POST, times=times, auto_id="choose_%s")
                if choose.is_valid():
                    services.choose_time(
                        request, actor, meeting, version=choose.cleaned_data["version"],
                        index=choose.cleaned_data["choice"],
                    )  # fmt: skip
                    messages.success(request, _("Thank you. CCHT will confirm the meeting."))
                    return redirect(here), {}
            elif request.POST.get("form") == "withdraw":
                withdraw = WithdrawForm(request.POST, auto_id="withdraw_%s")
                if withdraw.is_valid():
                    services.withdraw(
                        request, actor, meeting, version=withdraw.cleaned_data["version"],
                        note=withdraw.cleaned_data["note"],
                    )  # fmt: skip
                    messages.success(request, _("Your request is withdrawn."))
                    return redirect(here), {}
        except services.Stale:
            messages.warning(request, STALE)
            return redirect(here), {}
        except services.EngagementError as error:
            target = choose if request.POST.get("form") == "choose" else withdraw
            place_errors(target, error, SESSION_FIELDS)
    context = {
        # A form refused on submit stays on the page with its error, whatever the state now.
        "choose_form": choose
        if (times and meeting.status == RequestStatus.DATES_PROPOSED) or choose.errors
        else None,
        "withdraw_form": withdraw if meeting.is_open or withdraw.errors else None,
    }
    return None, context


def request_status(request: HttpRequest, token: str) -> HttpResponse:
    meeting = services.request_by_token(token)
    if meeting is None:
        raise access.not_found(request, "meeting_request_link", "token")
    here = reverse("engagement:request_status", args=[token])
    done, context = _requester_actions(request, meeting, None, here)
    if done is not None:
        return done
    return render(
        request, "engagement/request_status.html", {"meeting": meeting, "public": True, **context}
    )


# --- Signed-in requester and coordinator ------------------------------------------------------


@login_required
def requests(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    assert user is not None
    coordinator = access.is_engagement_coordinator(user)
    found = services.visible_requests(user).select_related("agency", "session")
    wanted = request.GET.get("status", "open" if coordinator else "")
    if wanted == "open":
        found = found.filter(
            status__in=[RequestStatus.SUBMITTED, RequestStatus.DATES_PROPOSED,
                        RequestStatus.ACCEPTED]
        )  # fmt: skip
    elif wanted in RequestStatus.values:
        found = found.filter(status=wanted)
    return render(
        request,
        "engagement/requests.html",
        {
            "meetings": found.order_by("created_at" if coordinator else "-created_at"),
            "coordinator": coordinator,
            "statuses": RequestStatus.choices,
            "wanted": wanted,
        },
    )


@login_required
def request_detail(request: HttpRequest, request_id: UUID) -> HttpResponse:
    user = _user(request)
    assert user is not None
    meeting = services.get_request(request, request_id)
    here = reverse("engagement:request", args=[meeting.pk])
    if not access.is_engagement_coordinator(user):
        done, context = _requester_actions(request, meeting, user, here)
        if done is not None:
            return done
        return render(request, "engagement/request_status.html", {"meeting": meeting, **context})
    return _coordinate_request(request, user, meeting, here)


def _coordinate_request(
    request: HttpRequest, user: User, meeting: MeetingRequest, here: str
) -> HttpResponse:
    initial = {"version": meeting.version, "time_zone": meeting.time_zone}
    upcoming = Session.objects.filter(status=SessionStatus.SCHEDULED, starts_at__gt=timezone.now())
    forms_: dict[str, forms.Form] = {
        "accept": AcceptForm(initial=initial, auto_id="accept_%s"),
        "propose": ProposeForm(initial=initial, auto_id="propose_%s"),
        "decline": DeclineForm(initial=initial, auto_id="decline_%s"),
        "link": LinkForm(initial=initial, sessions=upcoming, auto_id="link_%s"),
    }
    action = request.POST.get("form", "")
    if request.method == "POST" and action in forms_:
        if action == "link":
            form: forms.Form = LinkForm(request.POST, sessions=upcoming, auto_id="link_%s")
        else:
            form = type(forms_[action])(request.POST, auto_id=f"{action}_%s")
        forms_[action] = form
        if form.is_valid():
            data = form.cleaned_data
            version = data["version"]
            try:
                if action == "accept":
                    services.accept(request, user, meeting, version=version, note=data["note"])
                elif action == "decline":
                    services.decline(request, user, meeting, version=version,
                                     reason=data["reason"])  # fmt: skip
                elif action == "propose":
                    assert isinstance(form, ProposeForm)
                    services.propose(
                        request, user, meeting, version=version, times=form.times(),
                        time_zone=data["time_zone"], note=data["note"],
                    )  # fmt: skip
                else:
                    services.link_session(request, user, meeting, data["session"],
                                          version=version)  # fmt: skip
            except services.Stale:
                messages.warning(request, STALE)
                return redirect(here)
            except services.EngagementError as error:
                place_errors(form, error, SESSION_FIELDS)
            else:
                messages.success(request, _("Saved, and the requester was told."))
                return redirect(here)
    allowed = {
        "accept": RequestStatus.ACCEPTED, "propose": RequestStatus.DATES_PROPOSED,
        "decline": RequestStatus.DECLINED, "link": RequestStatus.SCHEDULED,
    }  # fmt: skip
    moves = COORDINATOR_MOVES[meeting.status]
    shown = {name: form for name, form in forms_.items() if allowed[name] in moves or form.errors}
    return render(
        request,
        "engagement/request_detail.html",
        {"meeting": meeting, "forms": shown, "events": meeting.events.all()},
    )


# --- Sessions: coordinators ----------------------------------------------------------------


@login_required
def sessions(request: HttpRequest) -> HttpResponse:
    _coordinator(request)
    return render(
        request,
        "engagement/sessions.html",
        {"sessions": services.coordinator_sessions(), "now": timezone.now()},
    )


@login_required
def session_new(request: HttpRequest) -> HttpResponse:
    user = _coordinator(request)
    meeting = None
    initial: dict[str, Any] = {"duration_minutes": 60, "is_public": True}
    raw = request.GET.get("request") or request.POST.get("meeting_request")
    if raw:
        try:
            meeting = services.get_request(request, UUID(raw))
        except ValueError as error:
            raise Http404("bad meeting request id") from error
        initial.update(_from_meeting(meeting))
    form = SessionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.create_session(
                request, user, form.to_input(), meeting=meeting,
                meeting_version=_whole(request.POST.get("meeting_version", "")),
            )  # fmt: skip
        except services.Stale:
            messages.warning(request, STALE)
        except services.EngagementError as error:
            place_errors(form, error, {})
        else:
            messages.success(request, _("Session created."))
            return redirect("engagement:session_manage", session_id=session.pk)
    return render(request, "engagement/session_form.html", {"form": form, "meeting": meeting})


def _whole(text: str) -> int:
    """A hidden number field as posted; 0 (never a stored version) if it is not one."""
    return int(text) if text.isdecimal() and len(text) < 10 else 0


def _from_meeting(meeting: MeetingRequest) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": _("Informational meeting: %(agency)s") % {"agency": meeting.agency_name},
        "topics": meeting.topics,
        "time_zone": meeting.time_zone,
        "capacity": meeting.audience_size,
        "is_public": False,
        "description": meeting.topics_other,
    }
    if meeting.agreed_start is not None:
        start = meeting.agreed_start.astimezone(zone(meeting.time_zone))
        values["day"] = start.date()
        values["at"] = start.time().replace(tzinfo=None)
    return values


@login_required
def session_edit(request: HttpRequest, session_id: UUID) -> HttpResponse:
    user = _coordinator(request)
    session = services.get_managed_session(request, session_id)
    form = SessionForm(request.POST or None, initial=session_initial(session))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_session(
                request, user, session, form.to_input(),
                version=form.cleaned_data["version"] or 0,
            )  # fmt: skip
        except services.Stale:
            messages.warning(request, STALE)
            return redirect("engagement:session_edit", session_id=session.pk)
        except services.EngagementError as error:
            place_errors(form, error, {})
        else:
            messages.success(request, _("Saved. Everyone registered was sent the update."))
            return redirect("engagement:session_manage", session_id=session.pk)
    return render(request, "engagement/session_form.html", {"form": form, "session": session})


@login_required
def session_manage(request: HttpRequest, session_id: UUID) -> HttpResponse:
    user = _coordinator(request)
    session = services.get_managed_session(request, session_id)
    here = reverse("engagement:session_manage", args=[session.pk])
    held = list(session.registrations.exclude(status=RegistrationStatus.CANCELLED))
    registered = [r for r in held if r.status == RegistrationStatus.REGISTERED]
    forms_: dict[str, forms.Form] = {
        "attendance": AttendanceForm(registrations=registered, auto_id="attendance_%s"),
        "import": AttendanceImportForm(auto_id="import_%s"),
        "follow_up": FollowUpForm(auto_id="follow_up_%s"),
        "cancel": CancelSessionForm(initial={"version": session.version}, auto_id="cancel_%s"),
    }
    report: attendance.Parsed | None = None
    action = request.POST.get("form", "")
    if request.method == "POST" and action in forms_:
        try:
            if action == "attendance":
                form: forms.Form = AttendanceForm(
                    request.POST, registrations=registered, auto_id="attendance_%s"
                )
                if form.is_valid():
                    assert isinstance(form, AttendanceForm)
                    n = services.record_attendance(request, user, session, form.marks())
                    messages.success(request, _("Attendance saved (%(n)d changed).") % {"n": n})
                    return redirect(here)
            elif action == "import":
                form = AttendanceImportForm(request.POST, request.FILES, auto_id="import_%s")
                if form.is_valid():
                    report = attendance.parse(
                        form.cleaned_data["file"].read(), services.attendance_emails(session)
                    )
                    if report.ok:
                        marks = services.attendance_marks(session, report.rows)
                        n = services.record_attendance(request, user, session, marks)
                        messages.success(request, _("%(rows)d rows imported; %(n)d changed.") % {
                            "rows": len(report.rows), "n": n})  # fmt: skip
                        return redirect(here)
            elif action == "follow_up":
                form = FollowUpForm(request.POST, auto_id="follow_up_%s")
                if form.is_valid():
                    n = services.send_follow_up(
                        request, user, session,
                        include_absent=form.cleaned_data["include_absent"],
                        note=form.cleaned_data["note"],
                    )  # fmt: skip
                    messages.success(request, _("Follow-up sent to %(n)d people.") % {"n": n})
                    return redirect(here)
            else:
                form = CancelSessionForm(request.POST, auto_id="cancel_%s")
                if form.is_valid():
                    services.cancel_session(
                        request, user, session, version=form.cleaned_data["version"],
                        reason=form.cleaned_data["reason"],
                    )  # fmt: skip
                    messages.success(request, _("Session cancelled; everyone was told."))
                    return redirect(here)
        except services.Stale:
            messages.warning(request, STALE)
            return redirect(here)
        except services.EngagementError as error:
            place_errors(form, error, {})
            if "" in error.errors:  # e.g. the session started meanwhile: the form may be gone
                messages.error(request, error.errors[""])
        forms_[action] = form
    return render(
        request,
        "engagement/session_manage.html",
        {
            "session": session,
            "registrations": held,
            "registered": len(registered),
            "waiting": len(held) - len(registered),
            "forms": forms_,
            "report": report,
            "started": session.starts_at <= timezone.now(),
            "meetings": session.meeting_requests.all(),
            "materials": calendar.material_links(session),
        },
    )


# --- Sessions: the public and attendees ------------------------------------------------------


def session_detail(request: HttpRequest, session_id: UUID) -> HttpResponse:
    session = services.get_session(request, session_id)
    user = _user(request)
    mine = (
        session.registrations.exclude(status=RegistrationStatus.CANCELLED).filter(user=user).first()
        if user is not None
        else None
    )
    agencies = services.requester_agencies(user) if user is not None else None
    initial = {"full_name": user.full_name, "email": user.email} if user else {}
    form = RegistrationForm(request.POST or None, agencies=agencies, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        status = _refused(request, form, "registration", [])
        if not status:
            try:
                registration, token = services.register(
                    request, session, form.to_registrant(), user=user
                )
            except services.EngagementError as error:
                place_errors(form, error, {})
            else:
                if registration.status == RegistrationStatus.REGISTERED:
                    messages.success(request, _("You are registered. The invitation is on its "
                                                "way by email; you can also add it below."))  # fmt: skip
                else:
                    messages.info(request, _("The session is full: you are on the waiting list."))
                return redirect("engagement:registration", token=token)
    coordinator = user is not None and access.is_engagement_coordinator(user)
    open_ = not session.is_cancelled and session.starts_at > timezone.now()
    return render(
        request,
        "engagement/session_detail.html",
        {
            "session": session,
            "places_left": services.places_left(session),
            "form": form if (open_ and mine is None) or form.errors else None,
            "mine": mine,
            "show_link": coordinator
            or (mine is not None and mine.status == RegistrationStatus.REGISTERED),
            "coordinator": coordinator,
            "materials": calendar.material_links(session, request.LANGUAGE_CODE),
        },
        status=status or 200,
    )


def _registration_page(
    request: HttpRequest, registration: Registration, ics_url: str, here: str
) -> HttpResponse:
    if request.method == "POST":
        try:
            services.cancel_registration(request, registration, _user(request))
        except services.EngagementError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Your place is cancelled. The calendar update was sent."))
        return redirect(here)
    session = registration.session
    return render(
        request,
        "engagement/registration.html",
        {
            "registration": registration,
            "session": session,
            "position": services.waiting_position(registration),
            "ics_url": ics_url,
            "can_cancel": registration.status != RegistrationStatus.CANCELLED
            and session.starts_at > timezone.now(),
            "materials": calendar.material_links(session, request.LANGUAGE_CODE),
        },
    )


def registration(request: HttpRequest, token: str) -> HttpResponse:
    found = services.registration_by_token(token)
    if found is None:
        raise access.not_found(request, "registration_link", "token")
    return _registration_page(
        request, found, reverse("engagement:registration_ics", args=[token]), request.path
    )


def _ics(registration: Registration) -> HttpResponse:
    response = HttpResponse(
        services.attendee_calendar(registration), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="cp-navigator-session.ics"'
    return response


def registration_ics(request: HttpRequest, token: str) -> HttpResponse:
    found = services.registration_by_token(token)
    if found is None:
        raise access.not_found(request, "registration_link", "token")
    return _ics(found)


def _own(request: HttpRequest, registration_id: UUID) -> Registration:
    user = _user(request)
    found = (
        services.own_registrations(user).filter(pk=registration_id).first()
        if user is not None
        else None
    )
    if found is None:
        raise access.not_found(request, "registration", registration_id)
    return found


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    assert user is not None
    return render(
        request,
        "engagement/mine.html",
        {
            "registrations": services.own_registrations(user),
            "meetings": MeetingRequest.objects.filter(requester=user),
        },
    )


@login_required
def my_registration(request: HttpRequest, registration_id: UUID) -> HttpResponse:
    found = _own(request, registration_id)
    return _registration_page(
        request, found, reverse("engagement:my_ics", args=[found.pk]), request.path
    )


@login_required
def my_ics(request: HttpRequest, registration_id: UUID) -> HttpResponse:
    return _ics(_own(request, registration_id))


# --- Engagement history ------------------------------------------------------------------------


@login_required
def agencies(request: HttpRequest) -> HttpResponse:
    _coordinator(request)
    return render(request, "engagement/agencies.html", {"rows": services.engagement_by_agency()})


@login_required
def agency(request: HttpRequest, key: str) -> HttpResponse:
    _coordinator(request)
    name, meetings, registrations = services.agency_history(key)
    if not name:
        raise access.not_found(request, "agency", key)
    return render(
        request,
        "engagement/agency.html",
        {"name": name, "meetings": meetings, "registrations": registrations},
    )
