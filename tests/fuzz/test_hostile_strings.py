"""Hostile text through every text field of every form, through the real views.

For each form a person submits (the table ``CASES``), every text field is sent:

* markup, template and SQL fragments, path traversal, bidi overrides, combining
  characters, emoji and a byte-order mark, packed into as few posts as the
  field's length allows;
* a value of exactly the field's maximum length in odd Unicode;
* a null byte.

Each is either refused with an error on that field and nothing written, or
stored exactly and shown inert: HTML-escaped on the page that displays it
(``<script>`` never appears raw, ``{{ 7*7 }}`` is not rendered as 49). Null
bytes are always refused. ``test_every_text_field_is_covered`` fails when a
form gains a text field that no case sends and no exemption explains.
Formula-looking cells are checked in the CSV export at the end.
"""

from __future__ import annotations

import csv
import importlib
import io
import itertools
import pkgutil
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from django import forms
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory, TestCase
from django.urls import reverse
from django.utils.html import escape

import cpnav
from cpnav.accounts import forms as account_forms
from cpnav.accounts import webauthn_views
from cpnav.accounts.models import Invitation, Role, SecurityKey, User
from cpnav.audit import forms as audit_forms
from cpnav.cases import forms as case_forms
from cpnav.cases.models import CPRequest, Share
from cpnav.cases.workflow import perform
from cpnav.core.ratelimit import reset as reset_rate_limits
from cpnav.engagement import forms as engagement_forms
from cpnav.engagement import services as engagement_services
from cpnav.engagement.models import MeetingRequest, Registration, Session
from cpnav.engagement.times import today_in
from cpnav.grants import forms as grant_forms
from cpnav.grants.models import Grant
from cpnav.identity import forms as identity_forms
from cpnav.interview import interview_by_id
from cpnav.interview.answers import DEFAULT_MAX_TEXT
from cpnav.referrals import forms as referral_forms
from cpnav.referrals.models import Kind, Provider, Referral
from cpnav.referrals.services import refer
from tests.conftest import MakeUser, signed_in
from tests.route import Route

pytestmark = pytest.mark.django_db

# The test client's response (Response plus .context and friends).
Response = Any

PIECES = (
    '"><img src=x onerror=alert(1)>',
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "{% debug %}",
    "${7*7}",
    "'; DROP TABLE cases_case; --",
    "../../etc/passwd",
    "\u202eevil.exe\u202c",
    "Ze\u0301\u0301\u0489 \U0001f469\u200d\U0001f469\u200d\U0001f467 \ufeffbom",
)
# Never in a page that shows hostile text, whatever else it holds.
RAW_MARKERS = ("<script>alert(1)", "<img src=x")
ODD = "e\u0301\U0001f469\u200d\U0001f467\u202e\ufeff\u540d"
NUL = "nul\x00byte"


def packed(limit: int) -> list[str]:
    """PIECES packed greedily into values of at most ``limit`` characters."""
    values: list[str] = []
    for piece in PIECES:
        piece = piece[:limit]
        if values and len(values[-1]) + 1 + len(piece) <= limit:
            values[-1] += " " + piece
        else:
            values.append(piece)
    return values


def longest(limit: int) -> str:
    """Exactly ``limit`` characters of combining marks, emoji, RLO and BOM."""
    text = (ODD * (limit // len(ODD) + 1))[:limit]
    return text if not text[-1].isspace() else text[:-1] + "x"


# ---- the table ------------------------------------------------------------------


@dataclass
class Post:
    """One submission: who, where, and a valid body the hostile values go into."""

    client: Client
    url: str
    data: dict[str, Any]
    # Pages that show the saved values, read after an accepted post.
    shown: list[str] = field(default_factory=list)
    # Where a value that no page shows can be read back (a record, an email).
    stored: Callable[[], str] | None = None
    method: str = "post"
    files: Callable[[], dict[str, Any]] | None = None
    # More pages that show the values, found from the accepted response.
    after: Callable[[Response], list[str]] | None = None
    # Run what the view leaves for after the commit (sending mail), as a real commit would.
    commit: bool = False


@dataclass(frozen=True)
class FormCase:
    id: str
    form: type[forms.Form] | None  # None: not a Django form (interview steps, ...)
    fields: dict[str, int]  # text field -> most characters it takes
    make: Callable[[World], Callable[[], Post]]


class World:
    """The route fixture's case and people, plus whatever a case needs, made on demand."""

    def __init__(self, route: Route, make_user: MakeUser, rf: RequestFactory) -> None:
        self.route = route
        self.make_user = make_user
        self.rf = rf
        self.counter = itertools.count(1)

    def client(self, user: User | None) -> Client:
        return signed_in(Client(), user) if user is not None else Client()

    def act(self, cp: CPRequest, *steps: tuple[str, User, dict[str, Any]]) -> CPRequest:
        for name, who, data in steps:
            http = self.rf.post("/")
            http.user = who
            cp = perform(http, cp, name, who, **data)
        return cp

    def fresh_request(self) -> CPRequest:
        r = self.route
        return CPRequest.objects.create(
            case=r.case, person=r.person, created_by=r.investigator, sponsor_office=r.hsi,
            facts=r.cp.facts,
        )  # fmt: skip

    def submitted_request(self) -> CPRequest:
        r = self.route
        return self.act(
            self.fresh_request(),
            ("submit_for_approval", r.investigator, {}),
            ("approve", r.supervisor, {}),
            ("endorse", r.sponsor, {}),
        )

    def grant(self) -> Grant:
        r = self.route
        cp = self.act(self.submitted_request(), ("grant", r.reviewer, {"start_date": date.today()}))
        return Grant.objects.get(person=r.person, terms__request=cp)

    def coordinator(self) -> User:
        if not hasattr(self, "_coordinator"):
            self._coordinator = self.make_user(
                "coordinator@ccht.example", self.route.ccht, (Role.ENGAGEMENT_COORDINATOR,)
            )
        return self._coordinator

    def future(self, days: int) -> str:
        return (today_in("America/Chicago", date_now()) + timedelta(days=days)).isoformat()

    def meeting(self) -> tuple[MeetingRequest, str]:
        """A meeting request from the public, and the token of its status link."""
        n = next(self.counter)
        http = self.rf.post("/")
        http.user = AnonymousUser()
        return engagement_services.submit_request(
            http, None,
            engagement_services.MeetingInput(
                contact_name=f"Dana {n}", contact_email=f"dana{n}@county.example",
                agency_name="Example County", jurisdiction="TX",
                jurisdiction_detail="Example County", audience=["investigators"],
                audience_size=10, topics=["cp_basics"],
                preferred_dates=[date.fromisoformat(self.future(20))], preferred_time="any",
                time_zone="America/Chicago",
            ),
        )  # fmt: skip

    def session(self, *, started: bool = False) -> Session:
        client = self.client(self.coordinator())
        title = f"Session {next(self.counter)}"
        client.post(reverse("engagement:session_new"), session_post(self, title=title))
        session = Session.objects.get(title=title)
        if started:
            Session.objects.filter(pk=session.pk).update(starts_at=date_now() - timedelta(hours=2))
        return session

    def provider(self) -> Provider:
        if not hasattr(self, "_provider"):
            self._provider = Provider.objects.create(
                name="Marlow County Safe House", kind=Kind.LOCAL, jurisdiction="Marlow County, TX",
                state="TX", services=["shelter"], languages=["English"], source="Synthetic",
            )  # fmt: skip
        return self._provider

    def referral(self) -> Referral:
        r = self.route
        http = self.rf.post("/")
        http.user = r.investigator
        return refer(
            http, r.investigator, r.person, self.provider(), ["shelter"], True,
            date.today() + timedelta(days=5), "Agreed",
        )  # fmt: skip


def date_now() -> Any:
    from django.utils import timezone

    return timezone.now()


def stamp(client: Client, url: str) -> str:
    found = re.search(r'name="form_started" value="([^"]+)"', client.get(url).content.decode())
    assert found, url
    return found.group(1)


def session_post(w: World, **extra: Any) -> dict[str, Any]:
    data = {
        "title": "Continued Presence for patrol", "topics": ["cp_basics"], "day": w.future(10),
        "at": "14:00", "time_zone": "America/Chicago", "duration_minutes": "60",
        "capacity": "20", "meeting_link": "https://meet.example/abc", "is_public": "on",
    }  # fmt: skip
    data.update(extra)
    return data


# -- cases ------------------------------------------------------------------------


def case_new(w: World) -> Callable[[], Post]:
    r = w.route

    def make() -> Post:
        return Post(
            w.client(r.investigator), reverse("cases:case_new"),
            {"agency": str(r.county.pk), "case_number": f"HS-{next(w.counter)}", "version": "1",
             "criminal_status": "investigating", "civil_status": "filed",
             "civil_court": "Court", "civil_number": "CV-1"},
        )  # fmt: skip

    return make


def person_new(w: World) -> Callable[[], Post]:
    r = w.route

    def make() -> Post:
        return Post(
            w.client(r.investigator), reverse("cases:person_new", args=[r.case.pk]),
            {"version": "1", "full_name": f"Synthetic Person {next(w.counter)}",
             "citizenship": "noncitizen", "confirm_not_duplicate": "on"},
        )  # fmt: skip

    return make


def request_facts(w: World) -> Callable[[], Post]:
    r = w.route

    def make() -> Post:
        cp = w.fresh_request()
        return Post(
            w.client(r.investigator),
            reverse("cases:request_facts", args=[cp.pk]),
            {"version": str(cp.version)},
            shown=[reverse("cases:request", args=[cp.pk])],
        )

    return make


def request_transition(w: World) -> Callable[[], Post]:
    r = w.route

    def make() -> Post:
        cp = w.submitted_request()
        return Post(
            w.client(r.reviewer),
            reverse("cases:request_transition", args=[cp.pk, "request_information"]),
            {
                "information": "Documents",
                "due_date": (date.today() + timedelta(days=9)).isoformat(),
            },
            shown=[reverse("cases:request", args=[cp.pk])],
        )

    return make


def attachment(w: World) -> Callable[[], Post]:
    r = w.route

    def make() -> Post:
        cp = w.fresh_request()
        return Post(
            w.client(r.investigator),
            reverse("cases:attachment_upload", args=[cp.pk]),
            {},
            shown=[reverse("cases:request", args=[cp.pk])],
            files=lambda: {"file": SimpleUploadedFile("letter.pdf", b"%PDF-1.4\n%%EOF\n")},
        )

    return make


def share(w: World) -> Callable[[], Post]:
    r = w.route

    def make() -> Post:
        return Post(
            w.client(r.investigator), reverse("cases:person_share", args=[r.person.pk]),
            {"grantee": r.specialist.email, "details": ["full_name"],
             "expires_on": (date.today() + timedelta(days=10)).isoformat()},
            stored=lambda: "\n".join(Share.objects.values_list("reason", flat=True)),
        )  # fmt: skip

    return make


def request_interview(w: World) -> Callable[[], Post]:
    """One text question of the CP request interview per post (``answer``)."""
    r = w.route

    def make() -> Post:
        cp = w.fresh_request()
        return Post(
            w.client(r.investigator),
            reverse("cases:request_interview", args=[cp.pk]),
            {},
            shown=[reverse("cases:request_review", args=[cp.pk])],
        )

    return make


# -- grants and referrals ------------------------------------------------------------


def grant_end(w: World) -> Callable[[], Post]:
    r = w.route

    def make() -> Post:
        grant = w.grant()
        url = reverse("grants:grant", args=[grant.pk])
        return Post(
            w.client(r.investigator), url,
            {"form": "end", "kind": "revoked", "effective_on": date.today().isoformat()},
            shown=[url],
        )  # fmt: skip

    return make


def referral_new(w: World) -> Callable[[], Post]:
    r = w.route

    def make() -> Post:
        return Post(
            w.client(r.investigator), reverse("referrals:person_referrals", args=[r.person.pk]),
            {"provider": str(w.provider().pk), "services": ["shelter"], "consent": "on",
             "follow_up_on": (date.today() + timedelta(days=3)).isoformat()},
            after=lambda _response: [
                reverse("referrals:referral", args=[r.pk]) for r in Referral.objects.all()
            ],
        )  # fmt: skip

    return make


def referral_status(w: World) -> Callable[[], Post]:
    r = w.route

    def make() -> Post:
        referral = w.referral()
        url = reverse("referrals:referral", args=[referral.pk])
        return Post(
            w.client(r.supervisor),
            url,
            {"form": "status", "version": "1", "status": "accepted"},
            shown=[url],
        )

    return make


def directory_search(w: World) -> Callable[[], Post]:
    def make() -> Post:
        return Post(
            w.client(w.route.investigator), reverse("referrals:directory"), {}, method="get"
        )

    return make


# -- engagement ---------------------------------------------------------------------


def meeting_request(w: World) -> Callable[[], Post]:
    def make() -> Post:
        reset_rate_limits()
        visitor = Client()
        url = reverse("engagement:request_new")
        before = set(MeetingRequest.objects.values_list("pk", flat=True))

        def stored() -> str:
            new = MeetingRequest.objects.exclude(pk__in=before).get()
            return (
                w.client(w.coordinator())
                .get(reverse("engagement:request", args=[new.pk]))
                .content.decode()
            )

        return Post(
            visitor, url,
            {"contact_name": "Dana Example", "contact_email": "dana@county.example",
             "agency_name": "Example County Sheriff", "jurisdiction": "TX",
             "jurisdiction_detail": "Example County", "audience": ["investigators"],
             "audience_size": "25", "topics": ["cp_basics"], "preferred_1": w.future(20),
             "preferred_time": "morning", "time_zone": "America/Chicago",
             "form_started": stamp(visitor, url)},
            stored=stored,
        )  # fmt: skip

    return make


def meeting_move(action: str, data: dict[str, Any]) -> Callable[[World], Callable[[], Post]]:
    def build(w: World) -> Callable[[], Post]:
        def make() -> Post:
            meeting, _token = w.meeting()
            url = reverse("engagement:request", args=[meeting.pk])
            return Post(w.client(w.coordinator()), url,
                        {"form": action, "version": str(meeting.version), **data}, shown=[url])  # fmt: skip

        return make

    return build


def meeting_withdraw(w: World) -> Callable[[], Post]:
    def make() -> Post:
        meeting, token = w.meeting()
        url = reverse("engagement:request_status", args=[token])
        return Post(
            Client(),
            url,
            {"form": "withdraw", "version": str(meeting.version)},
            shown=[reverse("engagement:request", args=[meeting.pk])],
        )

    return make


def session_new(w: World) -> Callable[[], Post]:
    def make() -> Post:
        return Post(
            w.client(w.coordinator()),
            reverse("engagement:session_new"),
            session_post(w, title=f"Session {next(w.counter)}"),
            after=lambda response: [response["Location"].removesuffix("manage/")],
        )

    return make


def registration(w: World) -> Callable[[], Post]:
    def make() -> Post:
        reset_rate_limits()
        session = w.session()
        visitor = Client()
        url = reverse("engagement:session", args=[session.pk])
        return Post(
            visitor, url,
            {"full_name": "Officer Example", "email": f"o{next(w.counter)}@county.example",
             "agency_name": "Example PD", "form_started": stamp(visitor, url)},
            shown=[reverse("engagement:session_manage", args=[session.pk])],
        )  # fmt: skip

    return make


def session_cancel(w: World) -> Callable[[], Post]:
    def make() -> Post:
        session = w.session()
        url = reverse("engagement:session_manage", args=[session.pk])
        return Post(w.client(w.coordinator()), url,
                    {"form": "cancel", "version": str(session.version)},
                    shown=[url, reverse("engagement:session", args=[session.pk])])  # fmt: skip

    return make


def session_follow_up(w: World) -> Callable[[], Post]:
    def make() -> Post:
        session = w.session()
        visitor = Client()
        url = reverse("engagement:session", args=[session.pk])
        visitor.post(url, {"full_name": "Officer Example", "email": "o@county.example",
                           "agency_name": "Example PD", "form_started": stamp(visitor, url)})  # fmt: skip
        Registration.objects.filter(session=session).update(attended=True)
        Session.objects.filter(pk=session.pk).update(starts_at=date_now() - timedelta(hours=2))
        mail.outbox.clear()
        return Post(
            w.client(w.coordinator()),
            reverse("engagement:session_manage", args=[session.pk]),
            {"form": "follow_up", "include_absent": "on"},
            stored=lambda: "\n".join(str(m.body) for m in mail.outbox),
            commit=True,
        )

    return make


# -- accounts and audit --------------------------------------------------------------


def api_token(w: World) -> Callable[[], Post]:
    def make() -> Post:
        url = reverse("accounts:api_tokens")
        return Post(w.client(w.route.investigator), url, {"scopes": ["read"], "days": "30"},
                    shown=[url])  # fmt: skip

    return make


def security_key_name(w: World) -> Callable[[], Post]:
    def make() -> Post:
        user = w.route.investigator
        key = SecurityKey.objects.create(
            user=user, credential_id=f"zz-fuzz-{next(w.counter)}", public_key=b"", name="Key"
        )
        url = reverse("accounts:security_key", args=[key.pk])
        return Post(w.client(user), url, {}, shown=[reverse("accounts:account"), url])

    return make


def invite(w: World) -> Callable[[], Post]:
    def make() -> Post:
        admin = w.make_user(f"admin{next(w.counter)}@a.example", w.route.county,
                            (Role.AGENCY_ADMIN,))  # fmt: skip
        return Post(
            w.client(admin),
            reverse("accounts:invite", args=[w.route.county.pk]),
            {"email": f"new{next(w.counter)}@a.example", "roles": [Role.INVESTIGATOR]},
            # The members page lists open invitations by address; the name is in the record
            # (and the invitation page, reached only with the emailed token).
            stored=lambda: "\n".join(Invitation.objects.values_list("full_name", flat=True)),
        )

    return make


def audit_filter(w: World) -> Callable[[], Post]:
    def make() -> Post:
        auditor = w.make_user(f"auditor{next(w.counter)}@a.example", w.route.county,
                              (Role.AUDITOR,))  # fmt: skip
        return Post(w.client(auditor), reverse("audit:log"), {}, method="get")

    return make


def identity_provider(w: World) -> Callable[[], Post]:
    """A system administrator adds an OpenID Connect provider; its page shows the settings."""

    def make() -> Post:
        from cpnav.identity.models import ProviderKind

        n = next(w.counter)
        admin = w.make_user(f"sysadmin{n}@example.org", is_staff=True, is_superuser=True)
        return Post(
            w.client(admin),
            reverse("identity:provider_new"),
            {"name": f"Provider {n}", "slug": f"fuzz-{n}", "kind": ProviderKind.OIDC,
             "issuer": "https://idp.example.org/", "client_id": "cpnav", "scopes": "openid"},
        )  # fmt: skip

    return make


CP_INTERVIEW = interview_by_id("cp_request")
# Text questions by id, and the text fields of people questions as "question/field".
INTERVIEW_TEXT = {
    q.id: q.max_length or DEFAULT_MAX_TEXT for q in CP_INTERVIEW.questions if q.type == "text"
} | {
    f"{q.id}/{f.id}": f.max_length or DEFAULT_MAX_TEXT
    for q in CP_INTERVIEW.questions
    if q.type == "people"
    for f in q.fields or ()
    if f.type == "text"
}

CASES: tuple[FormCase, ...] = (
    FormCase("case", case_forms.CaseForm,
             {"case_number": 60, "civil_court": 200, "civil_number": 80}, case_new),
    FormCase("person", case_forms.PersonForm,
             {"full_name": 300, "aliases": 1000, "country": 80, "languages": 200,
              "contact": 1000, "safe_contact": 1000, "a_number": 12}, person_new),
    FormCase("request_facts", case_forms.RequestFactsForm, {"narrative": 4000}, request_facts),
    FormCase("transition", case_forms.TransitionForm, {"comment": 4000, "information": 4000},
             request_transition),
    FormCase("attachment", case_forms.AttachmentForm, {"description": 200}, attachment),
    FormCase("share", case_forms.ShareForm, {"reason": 200}, share),
    FormCase("request_interview", None, INTERVIEW_TEXT, request_interview),
    FormCase("grant_end", grant_forms.EndForm, {"reason": 2000}, grant_end),
    FormCase("referral", referral_forms.ReferralForm, {"consent_note": 2000}, referral_new),
    FormCase("referral_status", referral_forms.StatusForm, {"note": 2000}, referral_status),
    FormCase("directory", referral_forms.DirectorySearchForm, {"text": 100, "language": 40},
             directory_search),
    FormCase("meeting_request", engagement_forms.MeetingRequestForm,
             {"contact_name": 200, "contact_phone": 40, "agency_name": 200,
              "jurisdiction_detail": 200, "topics_other": 500, "accessibility_needs": 2000,
              "language_needs": 200}, meeting_request),
    FormCase("meeting_accept", engagement_forms.AcceptForm, {"note": 2000},
             meeting_move("accept", {})),
    FormCase("meeting_decline", engagement_forms.DeclineForm, {"reason": 2000},
             meeting_move("decline", {})),
    FormCase("meeting_propose", engagement_forms.ProposeForm, {"note": 2000},
             meeting_move("propose", {"time_zone": "America/Chicago", "day_1": "2099-01-05",
                                      "at_1": "10:00"})),
    FormCase("meeting_withdraw", engagement_forms.WithdrawForm, {"note": 2000}, meeting_withdraw),
    FormCase("session", engagement_forms.SessionForm,
             {"title": 200, "description": 4000, "meeting_link": 500, "presenters": 500},
             session_new),
    FormCase("registration", engagement_forms.RegistrationForm,
             {"full_name": 200, "agency_name": 200}, registration),
    FormCase("session_cancel", engagement_forms.CancelSessionForm, {"reason": 2000},
             session_cancel),
    FormCase("session_follow_up", engagement_forms.FollowUpForm, {"note": 2000},
             session_follow_up),
    FormCase("api_token", account_forms.TokenForm, {"name": 100}, api_token),
    FormCase("security_key_name", webauthn_views.KeyNameForm, {"name": 100}, security_key_name),
    FormCase("invite", account_forms.InviteForm, {"full_name": 200}, invite),
    FormCase("identity_provider", identity_forms.ProviderForm,
             {"name": 100, "slug": 50, "issuer": 200, "client_id": 255, "scopes": 255,
              "acr_values": 500, "mfa_acr_values": 2000, "mfa_amr_values": 2000,
              "idp_metadata_xml": 200_000, "attribute_map": 4000, "mfa_authn_contexts": 2000},
             identity_provider),
    FormCase("audit_filter", audit_forms.AuditFilterForm,
             {"action": 64, "actor": 254, "object_id": 64}, audit_filter),
)  # fmt: skip

# Text fields not sent above, and why that is safe. (A field with a PasswordInput
# widget is never rendered back and never displayed: those are left out below.)
EXEMPT: dict[tuple[str, str], str] = {
    ("CodeForm", "code"): "a one-time code: compared, never stored",
    ("EnrolForm", "code"): "a one-time code: compared, never stored",
    ("ReauthForm", "code"): "a one-time code: compared, never stored",
    ("PasswordResetForm", "code"): "a one-time code: compared, never stored",
    ("SetPasswordForm", "full_name"): "the same value and page as InviteForm.full_name, "
    "which is covered; reaching it needs an emailed token",
    ("_AgencyForm", "agency_name"): "a base class: covered through MeetingRequestForm and "
    "RegistrationForm",
}

# ---- the checks -----------------------------------------------------------------


SNAPSHOT_APPS = {"cases", "engagement", "grants", "referrals", "screening", "documents"}
SNAPSHOT_MODELS = {
    "accounts.Invitation",
    "accounts.APIToken",
    "accounts.Membership",
    "accounts.SecurityKey",
}


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row a form here could write (the audit trail, which records refusals, aside)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for model in apps.get_models():
        label = model._meta.label
        if model._meta.app_label in SNAPSHOT_APPS or label in SNAPSHOT_MODELS:
            rows = model._default_manager.order_by("pk").values_list()
            out[label] = [tuple(map(repr, row)) for row in rows]
    return out


def _forms_in(response: Response, cls: type[forms.BaseForm]) -> Iterator[forms.BaseForm]:
    context = getattr(response, "context", None)
    if context is None:
        return
    seen: set[int] = set()
    for layer in context if isinstance(context, list) else [context]:
        for value in layer.flatten().values():
            for item in value.values() if isinstance(value, dict) else [value]:
                if isinstance(item, cls) and item.is_bound and id(item) not in seen:
                    seen.add(id(item))
                    yield item


def _refused_fields(case: FormCase, response: Response, sent: set[str]) -> set[str]:
    """The hostile fields the response names as wrong (empty when it was accepted)."""
    if response.status_code in (301, 302, 303):
        return set()
    if case.form is None:
        context = getattr(response, "context", None)
        return set(sent) if context is not None and context.get("error") else set()
    named: set[str] = set()
    for form in _forms_in(response, case.form):
        named |= set(form.errors) & sent
        if form.errors and not named:
            raise AssertionError(f"{case.id}: refused without naming a field: {form.errors}")
    return named


def _short(value: str) -> str:
    return f"{value[:40]!r}... ({len(value)} characters)" if len(value) > 40 else repr(value)


def _inert(html: str, where: str) -> None:
    for marker in RAW_MARKERS:
        if marker in html:
            raise AssertionError(f"{where}: unescaped {marker!r} in the page")


def _send(case: FormCase, post: Post, values: dict[str, str]) -> Response:
    client, data = post.client, {**post.data, **values}
    if post.method == "get":
        return client.get(post.url, data)
    if case.form is None:  # an interview step: one question, answered through "answer"
        ((key, value),) = values.items()
        qid, _, person_field = key.partition("/")
        if not person_field:
            return client.post(f"{post.url}?q={qid}", {"answer": value})
        # One row of a people question: the other fields filled in plainly.
        fields = CP_INTERVIEW.question(qid).fields or ()
        row = {f"p0-{f.id}": "Synthetic" if f.type == "text" else "" for f in fields}
        return client.post(f"{post.url}?q={qid}", {**row, "rows": "1", f"p0-{person_field}": value})
    if post.files is not None:
        return client.post(post.url, {**data, **post.files()})
    if post.commit:
        with TestCase.captureOnCommitCallbacks(execute=True):
            return client.post(post.url, data)
    return client.post(post.url, data)


def _pages(post: Post, response: Response) -> list[str]:
    html = response.content.decode()
    if post.method == "get":
        return [html]
    urls = [*post.shown, *(post.after(response) if post.after else [])]
    if response.status_code in (302, 303):
        urls.append(response["Location"])
    return [html, *(post.client.get(url).content.decode() for url in urls)]


def _shown_exactly(case: FormCase, post: Post, pages: list[str], sent: dict[str, str]) -> None:
    for page in pages:
        _inert(page, f"{case.id}: a page showing the saved text")
    text = "\n".join(pages)
    record = post.stored() if post.stored else ""
    for name, value in sent.items():
        if "\x00" in value:
            raise AssertionError(f"{case.id}.{name}: a null byte was accepted")
        if escape(value) not in text and value not in record:
            raise AssertionError(
                f"{case.id}.{name}: not stored exactly, or not shown escaped: {_short(value)}"
            )


def _round(case: FormCase, make: Callable[[], Post], wanted: dict[str, str]) -> None:
    """Send ``wanted`` (field -> hostile value) in one post; the fields a refusal
    names are checked as refused and the rest sent again in a fresh post."""
    if case.form is None:  # an interview: one question per post, then the review page
        post = make()
        accepted: dict[str, str] = {}
        last: Response | None = None
        for qid, value in wanted.items():
            before = _snapshot()
            last = _send(case, post, {qid: value})
            _inert(last.content.decode(), f"{case.id}.{qid} response")
            if _refused_fields(case, last, {qid}):
                assert _snapshot() == before, f"{case.id}.{qid}: refused but something written"
            else:
                accepted[qid] = value
        if accepted and last is not None:
            _shown_exactly(case, post, _pages(post, last), accepted)
        return
    sending = dict(wanted)
    while sending:
        post = make()
        before = _snapshot()
        response = _send(case, post, sending)
        _inert(response.content.decode(), f"{case.id} response")
        refused = _refused_fields(case, response, set(sending))
        if not refused:
            assert response.status_code in (200, 302, 303), (case.id, response.status_code)
            _shown_exactly(case, post, _pages(post, response), sending)
            return
        assert response.status_code in (200, 400), (case.id, response.status_code)
        assert _snapshot() == before, f"{case.id}: refused {sorted(refused)} but wrote something"
        sending = {name: value for name, value in sending.items() if name not in refused}


@pytest.fixture
def world(route: Route, make_user: MakeUser, rf: RequestFactory, settings: Any) -> World:
    settings.PUBLIC_FORM_MIN_SECONDS = 0
    reset_rate_limits()
    return World(route, make_user, rf)


MAX_ROUNDS = 2


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_text_is_refused_or_stored_and_shown_inert(case: FormCase, world: World) -> None:
    make = case.make(world)
    chunks = {name: packed(limit) for name, limit in case.fields.items()}
    rounds = min(MAX_ROUNDS, max(len(values) for values in chunks.values()))
    for index in range(rounds):
        # The last round takes whatever pieces the earlier ones had no room for.
        _round(case, make, {
            name: values[index] if index < rounds - 1 or len(values) <= rounds
            else " ".join(values[index:])[: case.fields[name]]
            for name, values in chunks.items() if index < len(values)
        })  # fmt: skip
    _round(case, make, {name: longest(limit) for name, limit in case.fields.items()})

    # A null byte: refused with an error on its field, and nothing written.
    post = make()
    sent = {name: NUL for name in case.fields}
    for batch in [{name: NUL} for name in sent] if case.form is None else [sent]:
        before = _snapshot()
        response = _send(case, post, batch)
        refused = _refused_fields(case, response, set(batch))
        assert refused == set(batch), f"{case.id}: took a null byte in {set(batch) - refused}"
        assert _snapshot() == before, f"{case.id}: a post refused for a null byte wrote something"


# ---- coverage of the app's forms ---------------------------------------------------------


def _app_forms() -> Iterator[type[forms.Form]]:
    for module in pkgutil.iter_modules(cpnav.__path__):
        try:
            importlib.import_module(f"cpnav.{module.name}.forms")
        except ModuleNotFoundError:
            continue

    def below(cls: type[forms.Form]) -> Iterator[type[forms.Form]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    yield from {c for c in below(forms.Form) if c.__module__.startswith("cpnav.")}


def test_every_text_field_is_covered() -> None:
    covered = {(c.form.__name__, name) for c in CASES if c.form for name in c.fields}
    text_fields = {
        (form.__name__, name)
        for form in _app_forms()
        for name, f in form.base_fields.items()
        if isinstance(f, forms.CharField)
        and not isinstance(f, forms.EmailField)  # refused unless an address; echo checked above
        and not isinstance(f.widget, forms.PasswordInput)
    }
    left = text_fields - covered - set(EXEMPT)
    assert not left, f"text fields no hostile-string case sends (add a FormCase or EXEMPT): {left}"
    assert not set(EXEMPT) - text_fields, "EXEMPT names a field that no longer exists"
    for case in CASES:
        if case.form is not None:
            for name, limit in case.fields.items():
                assert getattr(case.form.base_fields[name], "max_length", None) == limit, name
    assert {key.partition("/")[0] for key in INTERVIEW_TEXT} <= {
        q.id for q in CP_INTERVIEW.questions
    }


# ---- CSV exports -------------------------------------------------------------------------


def test_formula_looking_text_is_neutralised_in_the_csv_export(world: World) -> None:
    r = world.route
    client = world.client(r.investigator)
    client.post(reverse("cases:case_edit", args=[r.case.pk]), {
        "version": str(r.case.version), "agency": str(r.county.pk), "case_number": "=1+2",
        "criminal_status": "investigating", "civil_status": "filed",
        "civil_court": "@SUM(A1)", "civil_number": "-2+3",
    })  # fmt: skip
    r.case.refresh_from_db()
    assert r.case.case_number == "=1+2"
    response = client.post(reverse("exports:export", args=["cases"]), {"format": "csv"})
    body = b"".join(getattr(response, "streaming_content")).decode("utf-8-sig")  # noqa: B009
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert "'=1+2" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


# ---- inputs read straight from the request (no Django form) ---------------------------------

SEARCHES = [
    ("cases:cases", "q", "investigator"),
    ("cases:cases", "page", "investigator"),
    ("cases:queue_ccht", "min_days", "reviewer"),
    ("grants:due_soon", "within", "investigator"),
]


@pytest.mark.parametrize(("name", "param", "who"), SEARCHES)
def test_search_boxes_echo_hostile_text_inert(
    world: World, name: str, param: str, who: str
) -> None:
    client = world.client(getattr(world.route, who))
    for value in [*packed(64), NUL, longest(64), "9" * 40, "\u00b2", "-1"]:
        response = client.get(reverse(name), {param: value})
        assert response.status_code == 200, (name, _short(value))
        _inert(response.content.decode(), name)


def test_guide_search_echoes_hostile_text_inert(client: Client, db: None) -> None:
    url = reverse("guide:search", args=["en"])
    for value in [*packed(200), NUL, longest(200)]:
        response = client.get(url, {"q": value})
        assert response.status_code == 200, _short(value)
        html = response.content.decode()
        _inert(html, "guide search")
        if "\x00" not in value:
            assert escape(value) in html


def test_screening_reference_is_refused_with_a_null_byte_and_kept_inert(world: World) -> None:
    from cpnav.screening.models import Screening

    client = world.client(world.route.investigator)
    response = client.post(reverse("screening:start"), {"label": NUL}, follow=True)
    assert response.status_code == 200
    assert "cannot be saved" in response.content.decode()
    assert not Screening.objects.exists()
    value = packed(80)[0]
    client.post(reverse("screening:start"), {"label": value})
    assert Screening.objects.get().label == value
    index = client.get(reverse("screening:index")).content.decode()
    _inert(index, "screening index")
    assert escape(value) in index


def test_hidden_numbers_that_are_not_numbers_are_not_server_errors(world: World) -> None:
    """Hidden fields are input too: a mangled one is refused or ignored, never a 500."""
    staff = world.client(world.coordinator())
    response = staff.post(
        reverse("engagement:session_new"), session_post(world, meeting_version="x\x00")
    )
    assert response.status_code == 302
    client = world.client(world.route.investigator)
    cp = world.fresh_request()
    people = next(q for q in CP_INTERVIEW.questions if q.type == "people")
    response = client.post(
        reverse("cases:request_interview", args=[cp.pk]) + f"?q={people.id}", {"rows": "lots"}
    )
    assert response.status_code in (200, 302)


def test_hostile_ids_and_links_are_not_found_not_server_errors(world: World) -> None:
    """Tokens and ids typed into the address bar or posted back: a 404, never a 500 (a null
    byte once reached PostgreSQL through the audit record of the refused look-up)."""
    public = Client()
    for token in ("a%00b", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "..%2F..%2Fetc", "%E2%80%AE"):
        for prefix in ("/engagement/meeting/", "/engagement/place/"):
            response = public.get(f"{prefix}{token}/")
            assert response.status_code == 404, (prefix, token)
            _inert(response.content.decode(), prefix)
    client = world.client(world.route.investigator)
    for value in ("x", "a\x00b", "00000000-0000-0000-0000-000000000000"):
        response = client.post(reverse("accounts:api_tokens"), {"revoke": value})
        assert response.status_code == 404, _short(value)
