"""Pages for cases, people and CP requests. Views parse input, call a service, render."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from cpnav.accounts import access
from cpnav.accounts.models import Agency, Level, User
from cpnav.audit.services import record
from cpnav.cases import services, workflow
from cpnav.cases.attachments import (
    AttachmentError,
    LimitedUploadHandler,
    serve,
    store,
    upload_refusal,
)
from cpnav.cases.forms import (
    CASE_FIELDS,
    AttachmentForm,
    CaseForm,
    PersonForm,
    RequestFactsForm,
    ShareForm,
    TransitionForm,
    case_initial,
    facts_initial,
    person_initial,
)
from cpnav.cases.models import (
    Attachment,
    Case,
    CPRequest,
    Form,
    Notification,
    Person,
    Share,
    Status,
)
from cpnav.core.paging import CappedPaginator
from cpnav.core.routers import replica_view
from cpnav.documents.models import GeneratedDocument

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    assert user is not None  # login_required ran first
    return user


def _shown(field: Any, value: Any) -> str:
    choices = dict(getattr(field, "choices", []) or [])
    if isinstance(value, list | tuple):
        return ", ".join(str(choices.get(v, v)) for v in value) or "-"
    if value in (None, ""):
        return "-"
    return str(choices.get(value, value))


def _stale_rows(form: Any, saved: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The fields where the saved version and the user's version differ, side by side."""
    rows = []
    for name, field in form.fields.items():
        if name in {"version", "confirm_not_duplicate"}:
            continue
        mine = (
            form.data.getlist(name)
            if hasattr(form.data, "getlist") and isinstance(field, forms.MultipleChoiceField)
            else form.data.get(name, "")
        )
        theirs = saved.get(name)
        if theirs is not None and not isinstance(theirs, str | list | tuple):
            theirs = getattr(theirs, "pk", theirs)
        if _shown(field, theirs) != _shown(field, mine):
            rows.append((str(field.label), _shown(field, theirs), _shown(field, mine)))
    return rows


def _apply_errors(form: Any, fields: dict[str, str], message: str) -> None:
    placed = False
    for name, text in fields.items():
        if name in form.fields:
            form.add_error(name, text)
            placed = True
    if not placed:
        form.add_error(None, message)


CASE_SORTS = ("-updated_at", "updated_at", "case_number", "-case_number")


@login_required
@replica_view
def case_list(request: HttpRequest) -> HttpResponse:
    """The cases the user may see: filtered by case number, request status and trafficking
    form, sorted, paginated. Unknown filter values are ignored, not errors."""
    cases = access.visible_cases(request.user)
    # NUL is in no case number, and PostgreSQL refuses it in a query.
    number = request.GET.get("q", "").replace("\x00", "").strip()[:64]
    if number:
        cases = cases.filter(case_number__icontains=number)
    status = request.GET.get("status", "")
    if status in Status.values:
        # EXISTS probes the few cases at hand; IN would gather every request in that status.
        cases = cases.filter(Exists(CPRequest.objects.filter(case=OuterRef("pk"), status=status)))
    form = request.GET.get("form", "")
    if form in Form.values:
        # A JSON list of fixed words: a text match on the quoted word works on both databases.
        cases = cases.filter(trafficking_forms__icontains=f'"{form}"')
    sort = request.GET.get("sort", "-updated_at")
    if sort not in CASE_SORTS:
        sort = "-updated_at"
    page = CappedPaginator(cases.order_by(sort, "pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    can_create = bool(services.investigator_agencies(_user(request)))
    filters = {"q": number, "status": status if status in Status.values else "",
               "form": form if form in Form.values else ""}  # fmt: skip
    query = urlencode({k: v for k, v in {**filters, "sort": sort}.items() if v})
    return render(
        request,
        "cases/case_list.html",
        {"page": page, "sort": sort, "can_create": can_create, "filters": filters,
         "filtered": any(filters.values()), "query": query,
         "sort_query": urlencode({k: v for k, v in filters.items() if v}),
         "statuses": Status.choices, "forms": Form.choices},
    )  # fmt: skip


@login_required
def case_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    agencies = services.investigator_agencies(user)
    if not agencies:
        raise access.forbidden(request, "create case")
    form = CaseForm(request.POST or None, agencies=agencies, initial={"version": 1})
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in CASE_FIELDS}
        fields["civil_court"] = fields["civil_court"].strip()
        try:
            case = services.create_case(request, user, form.cleaned_data["agency"], **fields)
        except services.CaseError as error:
            _apply_errors(form, error.fields, str(error))
        else:
            messages.success(request, _("Case created."))
            return redirect("cases:case", case_id=case.pk)
    return render(request, "cases/case_form.html", {"form": form, "case": None})


@login_required
def case_detail(request: HttpRequest, case_id: UUID) -> HttpResponse:
    case = access.get_case(request, case_id)
    user = _user(request)
    requests = access.visible_requests(user).filter(case=case)
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "people": case.people.all() if access.can_edit_case(user, case) else [],
            "requests": requests,
            "team": case.members.select_related("user"),
            "can_edit": access.can_edit_case(user, case),
            "candidates": User.objects.filter(memberships__agency=case.agency, is_active=True)
            .exclude(team_cases=case)
            .distinct(),
        },
    )


@login_required
def case_edit(request: HttpRequest, case_id: UUID) -> HttpResponse:
    case = access.get_case(request, case_id)
    if not access.can_edit_case(request.user, case):
        raise access.forbidden(request, "edit case")
    form = CaseForm(request.POST or None, agencies=[case.agency], initial=case_initial(case))
    stale = None
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in CASE_FIELDS}
        try:
            services.save_versioned(
                request, case, form.cleaned_data["version"], changes, "case.changed"
            )
        except services.StaleVersion as error:
            stale = error.current
            form = CaseForm(
                {
                    **request.POST.dict(),
                    "trafficking_forms": request.POST.getlist("trafficking_forms"),
                    "version": stale.version,
                },
                agencies=[case.agency],
            )
            form.is_valid()
        else:
            messages.success(request, _("Case saved."))
            return redirect("cases:case", case_id=case.pk)
    rows = _stale_rows(form, case_initial(stale)) if isinstance(stale, Case) else []
    return render(
        request,
        "cases/case_form.html",
        {"form": form, "case": case, "stale": stale, "stale_rows": rows},
    )


def _in_agency_time(view: Any) -> Any:
    """Times typed on person forms are the agency's local times (CPNAV time zones)."""

    def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        case = None
        if "case_id" in kwargs:
            case = access.visible_cases(request.user).filter(pk=kwargs["case_id"]).first()
        elif "person_id" in kwargs:
            person = (
                Person.objects.filter(pk=kwargs["person_id"]).select_related("case__agency").first()
            )
            case = person.case if person else None
        if case is None:
            return view(request, **kwargs)  # type: ignore[no-any-return]
        with timezone.override(case.agency.time_zone):
            return view(request, **kwargs)  # type: ignore[no-any-return]

    return wrapped


@login_required
@_in_agency_time
def person_new(request: HttpRequest, case_id: UUID) -> HttpResponse:
    case = access.get_case(request, case_id)
    if not access.can_edit_case(request.user, case):
        raise access.forbidden(request, "add person")
    form = PersonForm(request.POST or None, initial={"version": 1, "citizenship": "unknown"})
    duplicates: list[services.Duplicate] = []
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        duplicates = services.possible_duplicates(_user(request), Person(case=case, **changes))
        if duplicates and not form.cleaned_data["confirm_not_duplicate"]:
            form.add_error(
                "confirm_not_duplicate",
                _("This may be someone already recorded. Check, then confirm."),
            )
        else:
            person = services.add_person(request, case, **changes)
            messages.success(request, _("Person added."))
            return redirect("cases:person", person_id=person.pk)
    return render(
        request, "cases/person_form.html", {"form": form, "case": case, "duplicates": duplicates}
    )


@login_required
def person_detail(request: HttpRequest, person_id: UUID) -> HttpResponse:
    person, share = access.get_person(request, person_id)
    fields = access.identifying_view(request, person, share)
    user = _user(request)
    can_edit = share is None and access.can_edit_case(user, person.case)
    return render(
        request,
        "cases/person_detail.html",
        {
            "person": person,
            "fields": fields,
            "share": share,
            "can_edit": can_edit,
            "can_start": share is None and access.on_case_team(user, person.case),
            "requests": access.visible_requests(user).filter(person=person)
            if share is None
            else [],
        },
    )


@login_required
@_in_agency_time
def person_edit(request: HttpRequest, person_id: UUID) -> HttpResponse:
    person, share = access.get_person(request, person_id)
    if share is not None or not access.can_edit_case(request.user, person.case):
        raise access.forbidden(request, "edit person")
    access.identifying_view(request, person, None)
    form = PersonForm(request.POST or None, initial=person_initial(person))
    stale = None
    if request.method == "POST" and form.is_valid():
        try:
            services.save_versioned(
                request, person, form.cleaned_data["version"], form.changes(), "person.changed"
            )
        except services.StaleVersion as error:
            stale = error.current
            form = PersonForm({**request.POST.dict(), "version": stale.version})
            form.is_valid()
        else:
            messages.success(request, _("Saved."))
            return redirect("cases:person", person_id=person.pk)
    return render(
        request,
        "cases/person_form.html",
        {
            "form": form,
            "case": person.case,
            "person": person,
            "stale": stale,
            "stale_rows": _stale_rows(form, person_initial(stale))
            if isinstance(stale, Person)
            else [],
        },
    )


@require_POST
@login_required
def request_new(request: HttpRequest, person_id: UUID) -> HttpResponse:
    person, share = access.get_person(request, person_id)
    if share is not None:
        raise access.forbidden(request, "start request")
    kind = request.POST.get("kind", "initial")
    cp = services.start_request(
        request, _user(request), person, kind if kind in {"initial", "extension"} else "initial"
    )
    return redirect("cases:request", request_id=cp.pk)


def _request_page(request: HttpRequest, cp: CPRequest, **extra: Any) -> HttpResponse:
    user = _user(request)
    context = {
        "cp": cp,
        "reference": workflow.reference(cp),
        "transitions": workflow.available(user, cp),
        "events": cp.events.select_related("actor"),
        "decisions": cp.decisions.all(),
        "attachments": cp.attachments.all(),
        "editable": services.editable(user, cp),
        "can_extend": access.on_case_team(user, cp.case),
        "facts_form": RequestFactsForm(
            initial={**facts_initial(cp.facts), "version": cp.version, "narrative": cp.narrative}
        ),
        "transition_form": TransitionForm(),
        "attachment_form": AttachmentForm(),
        "determination": cp.determination or None,
        "partners": Agency.objects.filter(level=Level.FEDERAL, is_ccht=False),
        "packages": GeneratedDocument.objects.filter(request=cp).select_related("generated_by"),
        **extra,
    }
    return render(request, "cases/request_detail.html", context)


@login_required
def request_detail(request: HttpRequest, request_id: UUID) -> HttpResponse:
    cp = access.get_cp_request(request, request_id)
    record(
        "request.viewed",
        request=request,
        agency_id=cp.case.agency_id,
        object_type="request",
        object_id=cp.pk,
    )
    return _request_page(request, cp)


@require_POST
@login_required
def request_facts(request: HttpRequest, request_id: UUID) -> HttpResponse:
    cp = access.get_cp_request(request, request_id)
    if not services.editable(_user(request), cp):
        raise access.forbidden(request, "edit request")
    form = RequestFactsForm(request.POST)
    if not form.is_valid():
        return _request_page(request, cp, facts_form=form)
    facts = {**(cp.facts or {}), **form.facts()}
    candidate = CPRequest(
        case=cp.case, person=cp.person, facts=facts, sponsor_office=cp.sponsor_office
    )
    try:
        workflow.refresh_determination(candidate)
        services.save_versioned(
            request, cp, form.cleaned_data["version"],
            {"facts": facts, "narrative": form.cleaned_data["narrative"],
             "determination": candidate.determination, "rules_version": candidate.rules_version},
            "request.changed",
        )  # fmt: skip
    except workflow.TransitionError as error:
        form.add_error(None, str(error))
        return _request_page(request, cp, facts_form=form)
    except services.StaleVersion as error:
        current = error.current
        assert isinstance(current, CPRequest)
        form = RequestFactsForm({**request.POST.dict(), "means": request.POST.getlist("means"),
                                 "purpose": request.POST.getlist("purpose"), "version": current.version})  # fmt: skip
        form.is_valid()
        saved = {**facts_initial(current.facts), "narrative": current.narrative}
        return _request_page(
            request, current, facts_form=form, stale=current, stale_rows=_stale_rows(form, saved)
        )
    messages.success(request, _("Saved. The determination was updated."))
    return redirect("cases:request", request_id=cp.pk)


@require_POST
@login_required
def request_transition(request: HttpRequest, request_id: UUID, name: str) -> HttpResponse:
    cp = access.get_cp_request(request, request_id)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        return _request_page(request, cp, transition_form=form, open_transition=name)
    try:
        workflow.perform(request, cp, name, _user(request), **form.cleaned_data)
    except workflow.TransitionError as error:
        _apply_errors(form, error.fields, str(error))
        if error.fields:
            form.add_error(None, str(error))
        return _request_page(request, cp, transition_form=form, open_transition=name)
    messages.success(request, _("Done: %(action)s.") % {"action": workflow.TRANSITIONS[name].label})
    if access.visible_requests(request.user).filter(pk=cp.pk).exists():
        return redirect("cases:request", request_id=cp.pk)
    return redirect("cases:cases")


@csrf_exempt  # CSRF is checked below, once the size-limiting upload handler is in place
def attachment_upload(request: HttpRequest, request_id: UUID) -> HttpResponse:
    """Refuse an oversized upload while it streams, before anything reads it."""
    request.upload_handlers = [LimitedUploadHandler(request)]
    return _attachment_upload(request, request_id)


@csrf_protect
@require_POST
@login_required
def _attachment_upload(request: HttpRequest, request_id: UUID) -> HttpResponse:
    cp = access.get_cp_request(request, request_id)
    if not services.may_attach(_user(request), cp):
        raise access.forbidden(request, "attach file")
    form = AttachmentForm(request.POST, request.FILES)
    refused = upload_refusal(request)  # set while request.FILES was parsed, just above
    if refused or not form.is_valid():
        if refused:
            services.upload_refused(request, cp, AttachmentError(refused, reason="too_large"))
            form.add_error("file", refused)
        return _request_page(request, cp, attachment_form=form)
    upload = form.cleaned_data["file"]
    try:
        stored = store(upload.chunks(), name=upload.name or "attachment")
    except AttachmentError as error:
        services.upload_refused(request, cp, error)
        form.add_error("file", str(error))
        return _request_page(request, cp, attachment_form=form)
    with transaction.atomic():  # no attachment without its audit event
        attachment = Attachment.objects.create(
            request=cp, relative_path=stored.relative_path, sha256=stored.sha256, size=stored.size,
            content_type=stored.content_type, original_name=stored.original_name,
            description=form.cleaned_data["description"], uploaded_by=_user(request),
        )  # fmt: skip
        record("attachment.added", request=request, agency_id=cp.case.agency_id, object_type="attachment",
               object_id=attachment.pk, details={"request": str(cp.pk), "sha256": stored.sha256})  # fmt: skip
    messages.success(request, _("File attached."))
    return redirect("cases:request", request_id=cp.pk)


@login_required
def attachment_download(request: HttpRequest, attachment_id: UUID) -> FileResponse:
    attachment = Attachment.objects.filter(
        pk=attachment_id, request__in=access.visible_requests(request.user)
    ).first()
    if attachment is None:
        raise access.not_found(request, "attachment", attachment_id)
    return serve(
        request,
        relative_path=attachment.relative_path,
        sha256=attachment.sha256,
        filename=attachment.original_name,
        content_type=attachment.content_type,
        object_type="attachment",
        object_id=attachment.pk,
        agency_id=attachment.request.case.agency_id,
    )


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    items = Paginator(Notification.objects.filter(user=user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    response = render(request, "cases/notifications.html", {"page": items})
    Notification.objects.filter(
        user=user, read_at__isnull=True, pk__in=[n.pk for n in items]
    ).update(read_at=timezone.now())
    return response


@require_POST
@login_required
def case_team(request: HttpRequest, case_id: UUID) -> HttpResponse:
    case = access.get_case(request, case_id)
    member_id = _uuid(request.POST.get("user", ""))
    member = User.objects.filter(pk=member_id).first() if member_id else None
    if member is None:
        messages.error(request, _("Choose a member of the agency."))
        return redirect("cases:case", case_id=case.pk)
    try:
        if request.POST.get("action") == "remove":
            services.remove_member(request, case, member)
        else:
            services.add_member(request, case, member)
    except services.CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Case team updated."))
    return redirect("cases:case", case_id=case.pk)


@require_POST
@login_required
def request_partner(request: HttpRequest, request_id: UUID) -> HttpResponse:
    cp = access.get_cp_request(request, request_id)
    office_id = _uuid(request.POST.get("sponsor_office", ""))
    office = Agency.objects.filter(pk=office_id).first() if office_id else None
    try:
        services.choose_partner(request, cp, office)
    except services.CaseError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Federal partner chosen."))
    return redirect("cases:request", request_id=cp.pk)


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


@login_required
def person_share(request: HttpRequest, person_id: UUID) -> HttpResponse:
    """Share a person's record with a victim specialist elsewhere: explicit, expiring, redacted."""
    person, share = access.get_person(request, person_id)
    if share is not None or not access.can_edit_case(request.user, person.case):
        raise access.forbidden(request, "share person")
    form = ShareForm(request.POST or None)
    if request.method == "POST" and request.POST.get("revoke"):
        found = Share.objects.filter(
            person=person, pk=_uuid(request.POST["revoke"]) or uuid4()
        ).first()
        if found is not None:
            services.revoke_share(request, found)
            messages.success(request, _("Share ended."))
        return redirect("cases:person_share", person_id=person.pk)
    if request.method == "POST" and form.is_valid():
        grantee = User.objects.filter(
            email=form.cleaned_data["grantee"].lower(), is_active=True
        ).first()
        if grantee is None:
            form.add_error("grantee", _("No active account has this email address."))
        else:
            expires = datetime.combine(form.cleaned_data["expires_on"], time.max, tzinfo=UTC)
            try:
                services.share_person(request, _user(request), person, grantee,
                                      form.cleaned_data["details"], form.cleaned_data["reason"], expires)  # fmt: skip
            except services.CaseError as error:
                _apply_errors(form, error.fields, str(error))
            else:
                messages.success(request, _("Shared."))
                return redirect("cases:person_share", person_id=person.pk)
    shares = person.shares.select_related("grantee").order_by("-created_at")
    return render(
        request, "cases/person_share.html", {"person": person, "form": form, "shares": shares}
    )
