"""Isolation sweep (issue #11): every page and API operation, for every persona.

The URL patterns are read from Django's resolver and the API operations from the
OpenAPI document, so a new endpoint is swept without anyone adding it here. Each
URL parameter is filled from ``FILL`` by its name: a parameter this file does not
know fails the sweep (add it to ``FILL``), it is never skipped.

The world holds records no persona below may see, written with marker strings
("ZZ-SECRET-0001", "Zelda Secretperson", ...) and the records' ids. For each
persona the sweep asserts:

- no response (HTML, JSON, CSV, XLSX, .ics, headers) holds a marker or an id of a
  hidden record, other than ids the request itself sent;
- an address naming a hidden record answers 404 - or exactly what the same address
  answers for an id that does not exist (a role check before the look-up answers
  403 to both) - never the record, so the answer cannot confirm that it exists;
- a write (POST, PUT, DELETE, with an empty or minimal valid body) changes none of
  the hidden records;
- signed out: pages redirect to sign-in and API operations answer 401.

Pages meant for the public (the guide, the public engagement forms, sign-in) are
listed in ``PUBLIC`` with the reason.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, QuerySet, Subquery, Sum, Value
from django.http import HttpResponseBase, StreamingHttpResponse
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from cpnav.accounts import tokens
from cpnav.accounts.models import APIToken, Invitation, Membership, SecurityKey, User
from cpnav.api.urls import api
from cpnav.cases import workflow
from cpnav.cases.models import (
    Attachment,
    Case,
    CaseMember,
    CPRequest,
    Decision,
    Notification,
    Person,
    RequestEvent,
    Share,
    Status,
)
from cpnav.documents.models import GeneratedDocument
from cpnav.engagement.models import (
    MeetingRequest,
    MeetingRequestEvent,
    Registration,
    RegistrationStatus,
    Session,
)
from cpnav.exports.datasets import DATASETS
from cpnav.grants.models import Grant, GrantEnd, GrantTerm
from cpnav.imports.models import ImportJob
from cpnav.referrals.models import Provider, Referral, ReferralEvent
from cpnav.reports.services import SLUGS
from cpnav.screening.models import Screening
from tests.conftest import MakeUser, signed_in
from tests.route import Route

API_PREFIX = "api/v1/"

# --- What is public, and why -------------------------------------------------------------

PUBLIC: dict[str, str] = {
    "core:home": "the landing page",
    "core:accessibility": "the accessibility statement",
    "core:privacy": "the privacy notice",
    "core:disclosure": "the vulnerability disclosure policy",
    "core:security_txt": "RFC 9116 security.txt",
    "core:healthz": "the load balancer's health check",
    "accounts:notice": "the system-use notice shown before sign-in",
    "accounts:signin": "sign-in",
    "accounts:verify": "the second sign-in step",
    "accounts:mfa_setup": "MFA enrolment during sign-in",
    "accounts:recovery_codes": "recovery codes shown during sign-in",
    "accounts:invitation": "an invitation link; a guessed token must answer 404",
    "accounts:password_reset": "a password reset link; a guessed token must answer 404",
    "identity:start": "starts a sign-in at an identity provider (before anyone is signed in)",
    "identity:callback": "where an identity provider sends the browser back after sign-in",
    "identity:jwks": "our public key, fetched by the identity provider",
    "identity:backchannel_logout": "the identity provider's server-to-server sign-out",
    "check:check": "the public eligibility check (no records)",
    "guide:home": "the public resource guide",
    "guide:index": "the public resource guide",
    "guide:search": "the public resource guide",
    "guide:pdf": "the public resource guide",
    "guide:page": "the public resource guide",
    "engagement:home": "the public list of engagement sessions",
    "engagement:request_new": "the public meeting request form",
    "engagement:request_status": "a requester's status link; a guessed token must answer 404",
    "engagement:session": "sessions are shared by their address and hold no victim data",
    "engagement:registration": "an attendee's link; a guessed token must answer 404",
    "engagement:registration_ics": "an attendee's link; a guessed token must answer 404",
    "grants:calendar_feed": "a calendar program's feed link; a guessed token must answer 404",
    "set_language": "the language switch",
    "api:openapi-json": "the API's OpenAPI document",
    "api:api-root": "the API's root (the docs page is off)",
    "api:create_determination": "the public CP determination API",
    "api:list_rules": "the public rules API",
    "api:list_sessions": "upcoming public engagement sessions",
    "api:get_session": "sessions are shared by their address and hold no victim data",
}

# Public and the same for everyone, and slow to make: only the anonymous persona reads them.
SAME_FOR_EVERYONE: dict[str, str] = {
    "api:openapi-json": "the API's description, built from the code alone",
    "guide:pdf": "the guide's PDF, built from its text alone",
}

# POSTs that end the sweep's own session; they are swept with GET only.
NO_POST: dict[str, str] = {
    "accounts:signout": "ends the session the sweep runs in",
    "accounts:signout_everywhere": "ends the session the sweep runs in",
}

# Extra POST bodies that make a page return a file, so the file is scanned too.
DOWNLOAD_POSTS: dict[str, list[dict[str, str]]] = {
    "exports:export": [{"format": "csv"}, {"format": "xlsx"}],
}


# --- The hidden world ------------------------------------------------------------------


@dataclass
class Hidden:
    """One case's records that the swept personas may not see."""

    case: Case
    person: Person
    cp: CPRequest
    attachment: Attachment
    document: GeneratedDocument
    grant: Grant
    referral: Referral
    share: Share
    markers: list[str]
    # The URL parameters it hides behind; None: all of them. The UNSENT extension hides
    # behind its request id alone: its case and person are the ROUTED ones.
    scope: frozenset[str] | None = None

    def ids(self) -> list[str]:
        if self.scope is not None:
            return [str(self.cp.pk)]
        objects = (self.case, self.person, self.cp, self.attachment, self.document, self.grant,
                   self.referral, self.share)  # fmt: skip
        return [str(o.pk) for o in objects]

    def values(self) -> dict[str, str]:
        """The case's records by URL parameter, as a persona entitled to them reads them."""
        return {
            "case_id": str(self.case.pk), "person_id": str(self.person.pk),
            "request_id": str(self.cp.pk), "attachment_id": str(self.attachment.pk),
            "document_id": str(self.document.pk), "grant_id": str(self.grant.pk),
            "referral_id": str(self.referral.pk), "share_id": str(self.share.pk),
        }  # fmt: skip


@dataclass
class World:
    route: Route
    secret: Hidden  # a draft: seen by the case team and the county's supervisor only
    routed: Hidden  # granted through HSI and CCHT: also seen by the HSI sponsor and CCHT
    unsent: Hidden  # the ROUTED person's extension, awaiting the county's supervisor
    provider: Provider
    session: Session
    meeting: MeetingRequest
    registration: Registration
    screening: Screening
    job: ImportJob
    invitation: Invitation
    notification: Notification
    token: APIToken
    owned_markers: list[str] = field(default_factory=list)

    def personal_ids(self) -> list[str]:
        objects = (self.meeting, self.registration, self.screening, self.job, self.invitation,
                   self.notification, self.token)  # fmt: skip
        return [str(o.pk) for o in objects]


def _hidden(route: Route, tag: str, name: str, provider: Provider, grantee: User) -> Hidden:
    """A case with a person, a CP request and all that hangs off them. The SECRET one is a
    draft; the ROUTED one was routed to the HSI sponsor and submitted to CCHT."""
    owner = route.investigator
    submitted = tag == "ROUTED"
    case = Case.objects.create(
        agency=route.county, case_number=f"ZZ-{tag}-0001", lead_investigator=owner,
        federal_partner=route.hsi, trafficking_forms=["labor"], civil_court=f"ZZ-{tag}-COURT",
    )  # fmt: skip
    CaseMember.objects.create(case=case, user=owner)
    person = Person(
        case=case, full_name=name, date_of_birth="1991-05-06",
        citizenship="noncitizen", a_number="A099887766" if tag == "SECRET" else "A088776655",
        contact=f"zz-{tag.lower()}-contact@example.invalid",
        minor_identified_at=timezone.now() - timedelta(days=3),
    )  # fmt: skip
    person.refresh_indexes()
    person.save()
    now = timezone.now()
    cp = CPRequest.objects.create(
        case=case, person=person, created_by=owner, sponsor_office=route.hsi,
        narrative=f"ZZ-{tag}-NARRATIVE", facts={"witness": {"potential_witness": True}},
        status=Status.GRANTED if submitted else Status.DRAFT,
        routed_to_sponsor_at=now if submitted else None, submitted_at=now if submitted else None,
        decided_at=now if submitted else None,
    )  # fmt: skip
    grant = Grant.objects.create(
        person=person, work_permit_expires_on=date.today() + timedelta(days=20)
    )
    if submitted:
        start, end = date.today() - timedelta(days=300), date.today() + timedelta(days=65)
        Decision.objects.create(
            request=cp, kind="information_requested", information_requested=f"ZZ-{tag}-ASKED",
            due_date=date.today() - timedelta(days=350), recorded_by=route.reviewer,
        )  # fmt: skip
        Decision.objects.create(request=cp, kind="granted", start_date=start, end_date=end,
                                recorded_by=route.reviewer)  # fmt: skip
        GrantTerm.objects.create(grant=grant, request=cp, kind="initial", start=start, end=end)
    attachment = Attachment.objects.create(
        request=cp, relative_path=f"zz/{tag.lower()}.pdf", sha256="0" * 64, size=10,
        content_type="application/pdf", original_name=f"{name} passport.pdf",
        description=f"ZZ-{tag}-ATTACHMENT", uploaded_by=owner,
    )  # fmt: skip
    document = GeneratedDocument.objects.create(
        request=cp, version=1, format="pdf", relative_path=f"zz/{tag.lower()}-package.pdf",
        sha256="1" * 64, size=10, request_status=cp.status, generated_by=owner,
    )  # fmt: skip
    referral = Referral.objects.create(
        person=person, provider=provider, services=["shelter"], consent_recorded=True,
        consent_recorded_by=owner, consent_recorded_at=now, consent_note=f"ZZ-{tag}-CONSENT",
        follow_up_on=date.today() + timedelta(days=2), created_by=owner,
    )  # fmt: skip
    share = Share.objects.create(
        person=person, grantee=grantee, fields=["full_name"], reason=f"ZZ-{tag}-SHARE",
        granted_by=owner, expires_at=now + timedelta(days=10),
    )  # fmt: skip
    first, last = name.split()
    markers = [f"ZZ-{tag}", first, last, person.a_number[1:], workflow.reference(cp),
               f"zz-{tag.lower()}-grantee"]  # fmt: skip
    return Hidden(case, person, cp, attachment, document, grant, referral, share, markers)


HIDDEN = {"ROUTED": "Yolanda Routedperson", "SECRET": "Zelda Secretperson"}


def _unsent(route: Route, routed: Hidden) -> Hidden:
    """An extension for the ROUTED person, waiting on the county's supervisor: neither the
    sponsor nor CCHT may see it, though they see the case, the person and the grant."""
    cp = CPRequest.objects.create(
        case=routed.case, person=routed.person, created_by=route.investigator, kind="extension",
        sponsor_office=route.hsi, narrative="ZZ-UNSENT-NARRATIVE",
        status=Status.AWAITING_SUPERVISOR,
    )  # fmt: skip
    return Hidden(
        routed.case, routed.person, cp, routed.attachment, routed.document, routed.grant,
        routed.referral, routed.share, ["ZZ-UNSENT", workflow.reference(cp)],
        scope=frozenset({"request_id"}),
    )  # fmt: skip


def build_world(
    route: Route,
    make_user: MakeUser,
    entitled: set[str] | None = None,
    midway: Callable[[dict[str, Hidden]], None] | None = None,
) -> World:
    """The hidden records. ``midway`` runs once the records the persona is ``entitled`` to
    exist and before any they may not see: what they read must not change after it."""
    owner = route.investigator
    now = timezone.now()
    provider = Provider.objects.create(
        name="Isolation Sweep Shelter", jurisdiction="Ohio", state="OH", services=["shelter"],
        source="Synthetic test entry",
    )  # fmt: skip
    session = Session.objects.create(
        title="Isolation sweep session", starts_at=now - timedelta(days=2),
        time_zone="America/New_York", capacity=10, is_public=False,
        meeting_link="https://meet.example.invalid/sweep", created_by=route.reviewer,
    )  # fmt: skip
    grantees = {tag: make_user(f"zz-{tag.lower()}-grantee@x.example") for tag in HIDDEN}
    made: dict[str, Hidden] = {}
    first = [t for t in HIDDEN if t in (entitled or set())]
    for tag in [*first, None, *HIDDEN, "UNSENT"]:
        if tag is None:  # the persona's own share of the world is complete
            if midway is not None:
                midway(dict(made))
        elif tag == "UNSENT" and tag not in made:
            made[tag] = _unsent(route, made["ROUTED"])
        elif tag not in made:
            made[tag] = _hidden(route, tag, HIDDEN[tag], provider, grantees[tag])
    meeting = MeetingRequest.objects.create(
        requester=owner, contact_name="ZZ-OWNED-CONTACT", contact_email="inv@a.example",
        agency=route.county, agency_name=route.county.name, jurisdiction="OH",
        jurisdiction_detail="ZZ-OWNED-COUNTY", audience=["investigators"], audience_size=12,
        topics=["continued_presence"], preferred_dates=[], preferred_time="morning",
        time_zone="America/New_York", status_token_hash="a" * 64,
    )  # fmt: skip
    registration = Registration.objects.create(
        session=session, user=owner, full_name="ZZ-OWNED-REGISTRANT", email="inv@a.example",
        agency=route.county, agency_name=route.county.name,
        status=RegistrationStatus.REGISTERED, queued_at=now, manage_token_hash="b" * 64,
    )  # fmt: skip
    screening = Screening.objects.create(
        owner=owner, agency=route.county, label="ZZ-OWNED-SCREENING"
    )
    job = ImportJob.objects.create(
        agency=route.county, created_by=owner, file_name="ZZ-OWNED-IMPORT.csv",
        file_format="csv", file_size=10,
    )  # fmt: skip
    invitation = Invitation.objects.create(
        agency=route.county, email="zz-owned-invitee@a.example", full_name="ZZ-OWNED-INVITEE",
        roles=["investigator"], token_hash="c" * 64, created_by=owner,
        expires_at=now + timedelta(days=5),
    )  # fmt: skip
    notification = Notification.objects.create(
        user=owner, message="ZZ-OWNED-NOTICE", link=f"/requests/{made['SECRET'].cp.pk}/"
    )
    http = RequestFactory().post("/")
    http.user = owner
    token, _secret = tokens.issue(http, owner, "ZZ-OWNED-TOKEN", ["read"], 30)
    return World(
        route, made["SECRET"], made["ROUTED"], made["UNSENT"], provider, session, meeting,
        registration,
        screening, job, invitation, notification, token, ["ZZ-OWNED"],
    )  # fmt: skip


def snapshot(world: World) -> dict[str, object]:
    """Row counts and version sums of everything hidden, read in one query: a write to a
    hidden record changes it."""
    cases = [world.secret.case.pk, world.routed.case.pk]
    owner = world.route.investigator
    counted: dict[str, QuerySet[Any]] = {
        "cases": Case.objects.filter(pk__in=cases),
        "members": CaseMember.objects.filter(case__in=cases),
        "people": Person.objects.filter(case__in=cases),
        "requests": CPRequest.objects.filter(case__in=cases),
        "events": RequestEvent.objects.filter(request__case__in=cases),
        "decisions": Decision.objects.filter(request__case__in=cases),
        "attachments": Attachment.objects.filter(request__case__in=cases),
        "packages": GeneratedDocument.objects.filter(request__case__in=cases),
        "shares": Share.objects.filter(person__case__in=cases, revoked_at__isnull=True),
        "grants": Grant.objects.filter(person__case__in=cases),
        "terms": GrantTerm.objects.filter(grant__person__case__in=cases),
        "ends": GrantEnd.objects.filter(grant__person__case__in=cases),
        "referrals": Referral.objects.filter(person__case__in=cases),
        "referral_events": ReferralEvent.objects.filter(referral__person__case__in=cases),
        "screenings": Screening.objects.filter(owner=owner, handed_to__isnull=True),
        "imports": ImportJob.objects.filter(created_by=owner),
        "meetings": MeetingRequest.objects.filter(requester=owner),
        "meeting_events": MeetingRequestEvent.objects.filter(meeting_request__requester=owner),
        "registrations": Registration.objects.filter(user=owner).exclude(status="cancelled"),
        "invitations": Invitation.objects.filter(agency=world.route.county,
                                                 revoked_at__isnull=True),
        "notifications": Notification.objects.filter(user=owner, read_at__isnull=True),
        "tokens": APIToken.objects.filter(user=owner, revoked_at__isnull=True),
        "memberships": Membership.objects.filter(agency=world.route.county),
        "owner_active": User.objects.filter(pk=owner.pk, is_active=True, locked_at__isnull=True),
    }  # fmt: skip
    versioned = ("cases", "people", "requests", "grants", "referrals", "meetings")

    def total(query: QuerySet[Any], how: Count | Sum) -> Subquery:
        return Subquery(query.order_by().annotate(one=Value(1)).values("one").annotate(n=how)
                        .values("n"))  # fmt: skip

    row = (
        User.objects.filter(pk=owner.pk)
        .annotate(**{f"n_{name}": total(query, Count("pk")) for name, query in counted.items()})
        .annotate(**{f"v_{name}": total(counted[name], Sum("version")) for name in versioned})
        .values(*[f"n_{name}" for name in counted], *[f"v_{name}" for name in versioned])
        .get()
    )
    return dict(row)


# --- Filling URL parameters ------------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    """How to fill one URL parameter.

    ``values`` gives the values to sweep with (several for e.g. every report table);
    ``secret`` says the value names a hidden record, so the address must answer as
    it does for ``stand_in`` (a record that does not exist).
    """

    values: Callable[[World, Hidden, str], list[str]]
    secret: bool
    stand_in: Callable[[], str] = lambda: str(uuid.uuid4())


def _one(pick: Callable[[World, Hidden, str], object], secret: bool = True) -> Fill:
    return Fill(lambda w, h, r: [str(pick(w, h, r))], secret)


def _request_id(world: World, hidden: Hidden, route: str) -> object:
    """A CP request, or on engagement addresses a meeting request."""
    return world.meeting.pk if "engagement" in route else hidden.cp.pk


def _guess() -> str:
    return f"zz-guessed-{uuid.uuid4().hex}"


def _security_key(world: World) -> object:
    """The investigator's security key, made on first use: only its holder may reach it."""
    key, _made = SecurityKey.objects.get_or_create(
        user=world.route.investigator,
        credential_id="zz-owned-credential",
        defaults={"public_key": b"", "name": "ZZ-OWNED-KEY"},
    )
    return key.pk


def _access_request(world: World) -> object:
    """A first sign-in held for the county's administrators, made on first use."""
    from cpnav.identity.models import AccessRequest, IdentityProvider, ProviderKind

    provider, _made = IdentityProvider.objects.get_or_create(
        slug="zz-sweep-idp", defaults={"name": "ZZ sweep provider", "kind": ProviderKind.OIDC}
    )
    held, _made = AccessRequest.objects.get_or_create(
        provider=provider, subject="zz-sweep-subject",
        defaults={"email": "zz-held@example.invalid", "full_name": "ZZ-HELD-PERSON",
                  "agency": world.route.county},
    )  # fmt: skip
    return held.pk


FILL: dict[str, Fill] = {
    # Hidden records: the address must answer as if they did not exist.
    "case_id": _one(lambda w, h, r: h.case.pk),
    "person_id": _one(lambda w, h, r: h.person.pk),
    "request_id": _one(_request_id),
    "attachment_id": _one(lambda w, h, r: h.attachment.pk),
    "document_id": _one(lambda w, h, r: h.document.pk),
    "grant_id": _one(lambda w, h, r: h.grant.pk),
    "referral_id": _one(lambda w, h, r: h.referral.pk),
    "share_id": _one(lambda w, h, r: h.share.pk),
    "screening_id": _one(lambda w, h, r: w.screening.pk),
    "job_id": _one(lambda w, h, r: w.job.pk),
    "registration_id": _one(lambda w, h, r: w.registration.pk),
    "invitation_id": _one(lambda w, h, r: w.invitation.pk),
    "agency_id": _one(lambda w, h, r: w.route.county.pk),  # administered by none of them
    "user_id": _one(lambda w, h, r: w.route.investigator.pk),
    "access_request_id": _one(lambda w, h, r: _access_request(w)),
    "key_id": _one(lambda w, h, r: _security_key(w)),
    # Secret links: a guessed token must answer 404 like any other.
    "token": Fill(lambda w, h, r: [_guess()], True, _guess),
    # The Django admin (system administrators only).
    "object_id": _one(lambda w, h, r: w.route.investigator.pk),
    "pk": Fill(lambda w, h, r: ["1"], True, lambda: "999999"),
    "content_type_id": _one(lambda w, h, r: ContentType.objects.get_for_model(User).pk),
    "app_label": _one(lambda w, h, r: "accounts", secret=False),
    "url": _one(lambda w, h, r: "zz-no-such-page/", secret=False),
    # Not secret: shared by design (sessions by address, the services directory) or
    # words of the application; filled with real values where that exercises more.
    "session_id": _one(lambda w, h, r: w.session.pk, secret=False),
    "provider_id": _one(lambda w, h, r: w.provider.pk, secret=False),
    "lang": _one(lambda w, h, r: "en", secret=False),
    "slug": _one(lambda w, h, r: "zz-no-such-page", secret=False),
    "kind": _one(lambda w, h, r: "work_permit_expiry", secret=False),
    "name": _one(lambda w, h, r: "submit_for_approval", secret=False),
    "action": _one(lambda w, h, r: "end-sessions", secret=False),
    "question_id": _one(lambda w, h, r: "victim_cooperation", secret=False),
    "key": _one(lambda w, h, r: w.route.county.pk, secret=False),
    "table": Fill(lambda w, h, r: sorted(SLUGS), False),
    "fmt": Fill(lambda w, h, r: ["csv", "xlsx"], False),
    "dataset": Fill(lambda w, h, r: sorted(DATASETS), False),
}

# API query parameters that name a record: filled with the hidden one.
QUERY_FILL: dict[str, Callable[[Hidden], str]] = {
    "case": lambda h: str(h.case.pk),
    "person": lambda h: str(h.person.pk),
    "agency": lambda h: str(h.case.agency_id),
}


# --- Enumerating the endpoints ----------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str  # the URL name (namespace:name), or api:<operation> for the API
    route: str  # the path with its parameters, e.g. /cases/<uuid:case_id>/
    params: tuple[str, ...]
    methods: tuple[str, ...]
    api: bool = False
    query: tuple[str, ...] = ()  # API query parameters this sweep fills
    body: Any = None  # a minimal valid API body, or None

    @property
    def public(self) -> bool:
        return self.name in PUBLIC

    @property
    def secret(self) -> bool:
        """The address names a record the persona may not see."""
        return any(FILL[p].secret for p in self.params)


PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)|\{(\w+)\}")


def _params(route: str) -> tuple[str, ...]:
    return tuple(next(g for g in m.groups() if g) for m in PARAM.finditer(route))


def _walk(
    resolver: URLResolver, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str]]:
    for item in resolver.url_patterns:
        if isinstance(item, URLResolver):
            inner = ":".join(filter(None, [namespace, item.namespace or ""]))
            yield from _walk(item, prefix + str(item.pattern), inner)
        elif isinstance(item, URLPattern):
            name = ":".join(filter(None, [namespace, item.name or "(unnamed)"]))
            yield name, prefix + str(item.pattern)


def url_patterns() -> list[tuple[str, str]]:
    """Every (name, route) Django answers, the API's included."""
    return list(_walk(get_resolver()))


def _schema_example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A minimal value that the schema accepts: required fields only, simplest values."""
    if "$ref" in schema:
        return _schema_example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    for combined in ("allOf", "anyOf", "oneOf"):
        if combined in schema:
            options = [s for s in schema[combined] if s.get("type") != "null"]
            return _schema_example(options[0], components)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: _schema_example(properties[name], components)
            for name in schema.get("required", [])
        }
    if kind == "array":
        item = _schema_example(schema.get("items", {}), components)
        return [item] * schema.get("minItems", 0)
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    formats = {
        "uuid": str(uuid.uuid4()),
        "date": (date.today() + timedelta(days=30)).isoformat(),
        "date-time": (timezone.now() + timedelta(days=30)).isoformat(),
        "time": "10:00",
        "email": "zz-sweep@example.invalid",
    }
    if schema.get("format") in formats:
        return formats[schema["format"]]
    return "x" * max(int(schema.get("minLength", 1)), 1)


def api_operations() -> list[Endpoint]:
    """Every operation of the OpenAPI document, named as Django's resolver names its path."""
    schema = api.get_openapi_schema()
    components = schema.get("components", {}).get("schemas", {})
    names: dict[str, list[str]] = {}
    for name, route in url_patterns():
        if route.startswith(API_PREFIX):
            names.setdefault("/" + re.sub(r"<(\w+)>", r"{\1}", route), []).append(name)
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            query = []
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                if parameter["name"] in QUERY_FILL:
                    query.append(parameter["name"])
                else:
                    assert not parameter.get("required"), (
                        f"{method.upper()} {path} requires the query parameter "
                        f"{parameter['name']!r}, which the isolation sweep cannot fill: add it "
                        "to QUERY_FILL in tests/security/test_isolation.py."
                    )
            content = operation.get("requestBody", {}).get("content", {})
            body = None
            if "application/json" in content:
                body = _schema_example(content["application/json"]["schema"], components)
            operation_id = operation.get("operationId", "")
            name = next(
                (n for n in names.get(path, []) if operation_id.endswith("_" + n.split(":")[-1])),
                f"api:{operation_id}",
            )
            found.append(
                Endpoint(
                    name=name, route=path, params=_params(path),
                    methods=(method.upper(),), api=True, query=tuple(query), body=body,
                )
            )  # fmt: skip
    return found


@cache
def endpoints() -> list[Endpoint]:
    """Every page and API operation (read once per run: the URLconf does not change)."""
    return enumerate_endpoints()


def enumerate_endpoints() -> list[Endpoint]:
    """Every page and API operation, each with the parameters the sweep fills."""
    found: list[Endpoint] = []
    operations = api_operations()
    documented = {e.route for e in operations}
    for name, route in url_patterns():
        if route.startswith(API_PREFIX):
            path = "/" + re.sub(r"<(\w+)>", r"{\1}", route)
            if path not in documented:  # the OpenAPI document, the root, hidden operations
                methods = ("GET",) if name in PUBLIC else ("GET", "POST")
                found.append(Endpoint(name, path, _params(path), methods, api=True))
            continue
        # The admin site checks its permission before any of its views runs (admin_view).
        post = not (name in PUBLIC or name in NO_POST or name.startswith("admin:"))
        path = "/" + route.replace("^", "").replace("$", "").replace("\\", "")
        found.append(Endpoint(name, path, _params(route), ("GET", "POST") if post else ("GET",)))
    found += operations
    unknown = sorted({f"{p} (in {e.name}: {e.route})" for e in found for p in e.params
                      if p not in FILL})  # fmt: skip
    assert not unknown, (
        "The isolation sweep does not know how to fill these URL parameters: "
        + "; ".join(unknown)
        + ". Add each to FILL in tests/security/test_isolation.py (secret=True when it names "
        "a record the user may not be allowed to see)."
    )
    return found


def _fill_route(route: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values[next(g for g in m.groups() if g)], route)


def addresses(
    endpoint: Endpoint, world: World, hidden: Hidden
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(path with the hidden ids, the same path with stand-ins, query) for each filling."""
    options: list[dict[str, str]] = [{}]
    for param in endpoint.params:
        fill = FILL[param]
        options = [
            {**o, param: v} for o in options for v in fill.values(world, hidden, endpoint.route)
        ]
    for values in options:
        stand_ins = {p: (FILL[p].stand_in() if FILL[p].secret else v) for p, v in values.items()}
        query = {name: QUERY_FILL[name](hidden) for name in endpoint.query}
        yield _fill_route(endpoint.route, values), _fill_route(endpoint.route, stand_ins), query


# --- Calling and reading ---------------------------------------------------------------


def _content(response: HttpResponseBase) -> bytes:
    if isinstance(response, StreamingHttpResponse) or getattr(response, "streaming", False):
        data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        data = response.content  # type: ignore[attr-defined]
    if data.startswith(b"PK\x03\x04"):  # XLSX, DOCX: the text is in the zipped XML
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = b"\n".join(archive.read(member) for member in archive.namelist())
    return data


def readable(response: HttpResponseBase) -> str:
    """Everything a client could read: the body (unzipped) and the telling headers."""
    headers = " ".join(
        response.get(name) or "" for name in ("Location", "Content-Disposition", "Link")
    )
    return _content(response).decode("utf-8", "replace") + "\n" + headers


NOISE = re.compile(
    r'(csrfmiddlewaretoken" value="|nonce="|csrf-token" content=")[^"]*"'
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|zz-guessed-[0-9a-f]+"
    r'|name="form_started" value="[^"]*"'
    # Messages queued by an earlier request show on whichever page comes next.
    r'|<div class="margin-top-2">\s*(<div class="usa-alert.*?</div>\s*</div>\s*)+</div>',
    re.DOTALL,
)


def normal(text: str) -> str:
    """The text without per-request noise: CSRF tokens, nonces, ids, queued messages."""
    return " ".join(NOISE.sub("", text).split())


def _same(a: HttpResponseBase, a_path: str, b: HttpResponseBase, b_path: str) -> bool:
    """Told apart by nothing but per-request noise and the address each was asked for
    (a sign-in redirect carries it back in ``next``)."""

    def seen(response: HttpResponseBase, path: str) -> str:
        text = readable(response)
        for sent in (path, quote(path)):
            text = text.replace(sent, "")
        return normal(text)

    return a.status_code == b.status_code and seen(a, a_path) == seen(b, b_path)


def call(client: Client, endpoint: Endpoint, method: str, path: str, query: dict[str, str],
         body: Any = None) -> HttpResponseBase:  # fmt: skip
    if query:
        path = f"{path}?{'&'.join(f'{k}={v}' for k, v in query.items())}"
    if endpoint.api and body is not None:
        return client.generic(method, path, json.dumps(body), content_type="application/json")
    if method == "POST":
        return client.post(path, body or {})
    return client.generic(method, path)


@dataclass
class Sweep:
    """One persona's sweep; the problems are gathered, then reported together."""

    world: World
    persona: str
    user: User | None
    entitled: set[str]  # the hidden cases this persona may see (keys of HIDDEN)
    page: Client
    token: Client
    problems: list[str] = field(default_factory=list)
    counted: int = 0

    @property
    def hidden(self) -> list[Hidden]:
        every = {"SECRET": self.world.secret, "ROUTED": self.world.routed,
                 "UNSENT": self.world.unsent}  # fmt: skip
        return [h for tag, h in every.items() if tag not in self.entitled]

    def markers(self) -> list[str]:
        found = list(self.world.owned_markers) + self.world.personal_ids()
        for hidden in self.hidden:
            found += hidden.markers + hidden.ids()
        return found

    def run(self) -> None:
        page, token = self.page, self.token
        markers = self.markers()
        before = snapshot(self.world)
        for endpoint in endpoints():
            if self.user is not None and endpoint.name in SAME_FOR_EVERYONE:
                continue
            client = token if endpoint.api else page
            # An address naming a hidden record is read for each hidden case; others once.
            # Writes are tried once, with the first hidden case and the first filling.
            behind = {p for p in endpoint.params if FILL[p].secret}
            reach = [h for h in self.hidden if h.scope is None or behind <= h.scope]
            for number, hidden in enumerate(reach if endpoint.secret else self.hidden[:1]):
                for filling, (path, stand_in, query) in enumerate(
                    addresses(endpoint, self.world, hidden)
                ):
                    for method in endpoint.methods:
                        if method != "GET" and (number or filling):
                            continue
                        lists = QUERIES.get(endpoint.name, []) if method == "GET" else []
                        # A list operation is read unfiltered, and filtered by the hidden case.
                        queries = [{}, query] if query and method == "GET" else [query]
                        for body in self._bodies(endpoint, method):
                            for address in [path, *(f"{path}?{q}" for q in lists)]:
                                for asked in queries:
                                    self._check(client, endpoint, method, address, stand_in,
                                                asked, body, markers)  # fmt: skip
        if snapshot(self.world) != before:
            self.problems.append(f"{self.persona}: the sweep changed a hidden record")

    def _bodies(self, endpoint: Endpoint, method: str) -> list[Any]:
        if method == "GET":
            return [None]
        if endpoint.api:
            return [endpoint.body]
        return [{}, *DOWNLOAD_POSTS.get(endpoint.name, [])]

    def _check(self, client: Client, endpoint: Endpoint, method: str, path: str, stand_in: str,
               query: dict[str, str], body: Any, markers: list[str]) -> None:  # fmt: skip
        # Writes are checked where they could reach a hidden record; run() also compares
        # the whole sweep's before and after.
        watch = method != "GET" and endpoint.secret
        before = snapshot(self.world) if watch else None
        response = call(client, endpoint, method, path, query, body)
        self.counted += 1
        shown_query = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
        where = f"{self.persona}: {method} {path}{shown_query} ({endpoint.name})"
        if before is not None and snapshot(self.world) != before:
            self.problems.append(f"{where} changed a hidden record")
        text = readable(response).lower()
        sent = (path + json.dumps(query) + json.dumps(body)).lower()
        shown = [m for m in markers if m.lower() in text and m.lower() not in sent]
        if shown:
            self.problems.append(f"{where} answered {response.status_code} showing {shown}")
        status = response.status_code
        if self.user is None and not endpoint.public:
            self._check_anonymous(endpoint, response, where)
        elif endpoint.secret and status not in (404, 405):  # 405: refused before any look-up
            other = call(client, endpoint, method, stand_in, query, body)
            if 200 <= status < 300 or not _same(response, path, other, stand_in):
                self.problems.append(
                    f"{where} answered {status} for a hidden record but {other.status_code} "
                    f"for one that does not exist ({stand_in}): it must answer 404"
                )

    def _check_anonymous(self, endpoint: Endpoint, response: HttpResponseBase, where: str) -> None:
        status = response.status_code
        if endpoint.public:
            return
        if endpoint.api:
            if status not in (401, 405):  # 405: a method the operation does not take
                self.problems.append(f"{where} answered {status} signed out: expected 401")
            return
        signin = reverse("accounts:signin")
        if 300 <= status < 400:
            location = response.get("Location") or ""
            # The admin site sends everyone to its login, which sends them to sign-in.
            if not (location.startswith(signin) or location.startswith("/admin/")):
                self.problems.append(f"{where} redirected signed out to {location}, not sign-in")
        elif status not in (401, 404, 405):  # 401: the session's own JSON endpoints
            self.problems.append(f"{where} answered {status} signed out: expected sign-in")


def clients(user: User | None) -> tuple[Client, Client]:
    """A signed-in browser and an API client with a read and write token."""
    if user is None:
        return Client(), Client()
    http = RequestFactory().post("/")
    http.user = user
    secret = tokens.issue(http, user, "sweep", ["read", "write"], 1)[1]
    return signed_in(Client(), user), Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


# Lists whose numbers may change with records the persona cannot see, and why.
UNCOUNTED: dict[str, str] = {
    "reports:dashboard": "program metrics: aggregates with small numbers suppressed "
    "(tests/reports/test_privacy.py), national for CCHT by design",
    "api:metrics": "the same program metrics over the API",
    "accounts:mfa_setup": "shows a new random secret each time; holds no records",
    "accounts:api_tokens": "the persona's own tokens, whose last use the sweep changes",
}

TIMES = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{1,2}:\d{2}(:\d{2})?\b"
)


# Lists read again with these queries: the other scopes and filters they offer.
QUERIES: dict[str, list[str]] = {
    "cases:cases": ["status=draft", "status=submitted", "form=labor", "sort=case_number"],
    "grants:due_soon": ["scope=all&show=all&within=365", "show=all&within=365"],
    "cases:queue_ccht": ["min_days=0&age=unknown"],
    "engagement:requests": ["status=submitted"],
}


def listings(
    page: Client,
    token: Client,
    everyone: bool,
    entitled: list[Hidden],
    markers: list[str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """What this persona reads that records they may not see could change: every list (an
    address without parameters, with its QUERIES), every download, and every page of the
    records they are ``entitled`` to - minus per-request noise. Also: where it shows one of
    the ``markers``."""
    reads: list[tuple[Client, str, str, dict[str, str] | None]] = []
    for endpoint in endpoints():
        client = token if endpoint.api else page
        if endpoint.name in UNCOUNTED or (endpoint.name in SAME_FOR_EVERYONE and not everyone):
            continue
        if endpoint.methods[0] != "GET":
            continue
        if not endpoint.params:
            for query in ["", *QUERIES.get(endpoint.name, [])]:
                path = f"{endpoint.route}?{query}" if query else endpoint.route
                reads.append((client, endpoint.name, path, None))
        for hidden in entitled:
            values = hidden.values()
            if (
                endpoint.params
                and set(endpoint.params) <= set(values)
                and ("engagement" not in endpoint.route)
            ):
                reads.append((client, endpoint.name, _fill_route(endpoint.route, values), None))
    for name, bodies in DOWNLOAD_POSTS.items():
        for dataset in sorted(DATASETS):
            for form in bodies:
                reads.append((page, name, reverse(name, args=[dataset]), form))
    found, problems = {}, []
    for client, name, path, body in reads:
        response = client.get(path) if body is None else client.post(path, body)
        raw = readable(response)
        where = f"{'GET' if body is None else 'POST'} {path} {body or ''} ({name})"
        shown = [m for m in markers or [] if m.lower() in raw.lower()]
        if shown:
            problems.append(f"{where} shows {shown}")
        found[where] = f"{response.status_code}\n{TIMES.sub('', normal(raw))}"
    return found, problems


def changed_lists(persona: str, before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The lists that read differently once records outside the persona's reach were added:
    a count, a row or a hint of them."""
    problems = []
    for where, old in before.items():
        new = after.get(where, "(not read)")
        if new != old:
            first = next(
                (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                min(len(old), len(new)),
            )
            problems.append(
                f"{persona}: {where} changed when hidden records were added: "
                f"...{old[max(0, first - 80) : first + 80]!r} became "
                f"...{new[max(0, first - 80) : first + 80]!r}"
            )
    return problems


# --- The tests --------------------------------------------------------------------------

PERSONAS: dict[str, tuple[str | None, set[str]]] = {
    # persona: (Route attribute, hidden cases they are entitled to see)
    "investigator of agency A, not on the team": ("teammate", set()),
    "supervisor (and investigator) of agency B": ("outsider", set()),
    "sponsor at an unrelated federal office": ("other_sponsor", set()),
    "sponsor at the partner office, before routing": ("sponsor", {"ROUTED"}),
    "CCHT reviewer, draft never submitted": ("reviewer", {"ROUTED"}),
    "victim specialist without a share": ("specialist", set()),
    "anonymous": (None, set()),
}


def test_every_endpoint_is_swept_with_known_parameters() -> None:
    """Enumeration alone: fails on a parameter FILL does not know, or a stale PUBLIC entry."""
    found = enumerate_endpoints()
    names = {e.name for e in found}
    stale = sorted(set(PUBLIC) - names) + sorted(set(NO_POST) - names)
    assert not stale, f"PUBLIC/NO_POST name endpoints that no longer exist: {stale}"
    missed = {name for name, _route in url_patterns()} - names
    assert not missed, f"URL patterns the sweep does not reach: {sorted(missed)}"
    assert len(api.get_openapi_schema()["paths"]) <= len({e.route for e in found if e.api})


def test_an_unknown_parameter_fails_the_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(FILL, "grant_id")
    with pytest.raises(AssertionError, match=r"grant_id .*Add each to FILL"):
        enumerate_endpoints()


@pytest.mark.django_db
def test_the_world_is_visible_to_its_owner(route: Route, make_user: MakeUser) -> None:
    """The markers are really on the pages, so the sweep's silence means something."""
    world = build_world(route, make_user)
    client = signed_in(Client(), route.investigator)
    case = readable(client.get(f"/cases/{world.secret.case.pk}/"))
    person = readable(client.get(f"/people/{world.secret.person.pk}/"))
    assert "ZZ-SECRET-0001" in case
    assert "Zelda Secretperson" in person
    listing = readable(client.get("/cases/"))
    assert "ZZ-SECRET-0001" in listing
    assert "ZZ-ROUTED-0001" in listing


@pytest.mark.django_db
@pytest.mark.parametrize(
    "persona", [pytest.param(p, id=PERSONAS[p][0] or "anonymous") for p in PERSONAS]
)
def test_no_record_outside_need_to_know(route: Route, make_user: MakeUser, persona: str) -> None:
    attribute, entitled = PERSONAS[persona]
    user = getattr(route, attribute) if attribute else None
    page, token = clients(user)
    before: dict[str, str] = {}

    def read_before(made: dict[str, Hidden]) -> None:
        before.update(listings(page, token, user is None, [made[t] for t in entitled])[0])

    world = build_world(route, make_user, entitled, read_before)
    sweep = Sweep(world, persona, user, entitled, page, token)
    mine = [h for t, h in (("ROUTED", world.routed), ("SECRET", world.secret)) if t in entitled]
    after, shown = listings(page, token, user is None, mine, sweep.markers())
    sweep.run()
    problems = (
        changed_lists(persona, before, after) + [f"{persona}: {p}" for p in shown] + sweep.problems
    )
    assert sweep.counted > 300
    assert not problems, f"{len(problems)} isolation problems:\n" + "\n".join(problems)


@pytest.mark.django_db
def test_an_unsent_extension_is_not_hinted_to_the_sponsor_or_ccht(
    route: Route, make_user: MakeUser
) -> None:
    """An extension still with the county's supervisor changes nothing CCHT reads about
    the person's grant (its status, deadlines) until it is submitted."""
    page, token = clients(route.reviewer)
    before: dict[str, str] = {}

    def read_before(made: dict[str, Hidden]) -> None:
        before.update(listings(page, token, False, [made["ROUTED"]])[0])

    world = build_world(route, make_user, {"ROUTED"}, read_before)
    after, _shown = listings(page, token, False, [world.routed])
    assert not changed_lists("CCHT reviewer", before, after)
