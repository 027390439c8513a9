"""Field-key rotation (`cpnav keys rotate`), the count per key (`keys status`) and
the start-up check that refuses a missing or wrong key. Synthetic data only.

The in-process tests run on the suite's database (SQLite or PostgreSQL); the
subprocess tests run the real command line against a file-based SQLite
database filled by `cpnav synth`, including a rotation killed half-way.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import Tags, registry
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from cpnav.audit.models import AuditEvent
from cpnav.audit.services import verify_chain
from cpnav.cases.models import Attachment, CPRequest, Person
from cpnav.cases.services import possible_duplicates
from cpnav.core import keys
from cpnav.core.crypto import decrypt, key_id_of
from cpnav.core.keys import (
    SAMPLE_ROWS,
    RotationError,
    Tally,
    check_stored_keys,
    protected_models,
    rotate,
    status,
)
from cpnav.envconf import FieldKey
from cpnav.identity.models import IdentityProvider, ProviderKind
from cpnav.imports.models import ImportFile, ImportJob
from tests.route import Route

ROOT = Path(__file__).resolve().parents[2]
OLD = FieldKey("old", os.urandom(32))
NEW = FieldKey("new", os.urandom(32))
WRONG_OLD = FieldKey("old", os.urandom(32))  # the right id with other key material
INDEX_KEY = os.urandom(32)


def _env_item(key: FieldKey) -> str:
    return f"{key.key_id}:{base64.b64encode(key.key).decode()}"


# ---------------------------------------------------------------------------
# In-process: the suite's database


@pytest.fixture
def old_keys(settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (OLD,)
    settings.FIELD_INDEX_KEY = INDEX_KEY


Values = dict[tuple[str, str, str], Any]


@dataclass
class World:
    route: Route
    twin: Person  # the route's person again, typed differently, on the same case
    plaintexts: Values


def read_back() -> Values:
    """Every encrypted value of every row, through the models (so decrypted)."""
    out: Values = {}
    for p in protected_models():
        for obj in p.model._base_manager.all():
            for f in p.fields:
                out[(p.label, str(obj.pk), f.name)] = getattr(obj, f.attname)
    return out


def raw_tokens() -> dict[tuple[str, str, str], str]:
    """Every stored token, straight from the tables."""
    out = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for p in protected_models():
            columns = ", ".join(quote(f.column) for f in p.fields)
            cursor.execute(f"SELECT {quote(p.pk_column)}, {columns} FROM {quote(p.table)}")  # noqa: S608
            for pk, *tokens in cursor.fetchall():
                for f, token in zip(p.fields, tokens, strict=True):
                    if token is not None:
                        out[(p.label, str(pk), f.name)] = token
    return out


@pytest.fixture
def world(old_keys: None, route: Route) -> World:
    """A row in every model with encrypted fields, every field filled, under key 'old'."""
    route.cp.narrative = "Synthetic narrative: recruited with a false job offer."
    route.cp.save()
    twin = Person(
        case=route.case, full_name="ANA  synthetic-TESTPERSON", date_of_birth="1990-04-02",
        a_number="A-012-345-678", contact="synthetic@example.org",
        safe_contact="Call the advocate first.",
    )  # fmt: skip
    twin.aliases = ["Ana S."]
    twin.refresh_indexes()
    twin.save()
    route.person.aliases = ["Ana T.", "Анна"]
    route.person.safe_contact = "Only by the office line."
    route.person.refresh_indexes()  # under this test's index key, whatever ran first
    route.person.save()
    Attachment.objects.create(
        request=route.cp, relative_path="aa/bb/x", sha256="0" * 64, size=1,
        content_type="application/pdf", original_name="Ana Synthetic statement.pdf",
        uploaded_by=route.investigator,
    )  # fmt: skip
    job = ImportJob(
        agency=route.county, created_by=route.investigator, file_name="synthetic people.csv",
        file_format="csv", file_size=10,
    )  # fmt: skip
    job.columns = ["Full name", "DOB"]
    job.mapping = {"full_name": "Full name"}
    job.problems = [[2, "DOB", "not a date: 'x'"]]
    job.summary = {"rows": 1}
    job.save()
    ImportFile.objects.create(job=job, data="eJzLSM3JyVcozy/KSQEAGgQEXQ==")
    # An identity provider's private keys (OpenID Connect client key, SAML SP key).
    IdentityProvider.objects.create(
        slug="keys-test", name="Synthetic provider", kind=ProviderKind.OIDC,
        client_private_jwk='{"kty": "RSA", "synthetic": true}',
        sp_private_key="-----BEGIN PRIVATE KEY-----\nsynthetic\n-----END PRIVATE KEY-----\n",
    )  # fmt: skip
    plaintexts = read_back()
    return World(route, twin, plaintexts)


def rotate_to_new(settings: Settings, **kwargs: Any) -> list[Tally]:
    settings.FIELD_ENCRYPTION_KEYS = (NEW, OLD)
    return rotate(**kwargs)


def test_every_model_and_field_is_in_the_test_data(world: World) -> None:
    # A new encrypted field or model needs a row in `world` to be covered here.
    tokens = raw_tokens()
    for p in protected_models():
        for f in p.fields:
            assert any(k[0] == p.label and k[2] == f.name for k in tokens), f.context
    assert {key_id_of(token) for token in tokens.values()} == {"old"}


def test_protected_models_are_found_through_the_registry() -> None:
    found = {f.context for p in protected_models() for f in p.fields}
    assert {"cases.person.full_name", "cases.person.aliases", "cases.cprequest.narrative",
            "cases.attachment.original_name", "imports.importjob.summary",
            "imports.importfile.data"} <= found  # fmt: skip
    # The unmanaged test model in test_crypto has no table and is never walked.
    assert all(p.model._meta.managed for p in protected_models())


def test_rotation_reencrypts_every_field_of_every_model(world: World, settings: Settings) -> None:
    before = raw_tokens()
    tallies = rotate_to_new(settings, batch=1)

    after = raw_tokens()
    assert after.keys() == before.keys()
    assert {key_id_of(token) for token in after.values()} == {"new"}
    assert all(after[k] != before[k] for k in before)
    rows = {(label, pk) for label, pk, _ in before}
    assert sum(t.reencrypted for t in tallies) == len(rows)
    assert sum(t.values for t in tallies) == len(before)
    assert sum(t.current for t in tallies) == 0
    # Readable with the new key alone, and every value reads back as it was.
    settings.FIELD_ENCRYPTION_KEYS = (NEW,)
    assert read_back() == world.plaintexts


def test_blind_index_lookups_still_find_duplicates(world: World, settings: Settings) -> None:
    person, twin = world.route.person, world.twin
    indexes = {p.pk: (p.a_number_index, p.name_dob_index) for p in Person.objects.all()}
    rotate_to_new(settings)
    settings.FIELD_ENCRYPTION_KEYS = (NEW,)
    # The indexes are HMACs under CPNAV_INDEX_KEY: untouched by a field-key rotation.
    assert {p.pk: (p.a_number_index, p.name_dob_index) for p in Person.objects.all()} == indexes
    fresh = Person.objects.get(pk=person.pk)
    found = possible_duplicates(world.route.investigator, fresh)
    assert [d.person.pk for d in found] == [twin.pk]
    assert Person.objects.filter(name_dob_index=fresh.name_dob_index).count() == 2


def test_second_run_finds_everything_current(world: World, settings: Settings) -> None:
    rotate_to_new(settings)
    done = raw_tokens()
    tallies = rotate(batch=2)
    assert raw_tokens() == done
    assert sum(t.reencrypted for t in tallies) == 0
    assert sum(t.current for t in tallies) == sum(t.total for t in tallies) > 0


def test_interrupted_run_resumes_where_it_stopped(world: World, settings: Settings) -> None:
    seen: list[str] = []

    def stop_after_two_batches(tally: Tally) -> None:
        seen.append(tally.label)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate_to_new(settings, batch=1, progress=stop_after_two_batches)
    halfway = raw_tokens()
    assert {key_id_of(t) for t in halfway.values()} == {"old", "new"}
    failed = AuditEvent.objects.get(action="keys.rotation_failed")
    assert failed.outcome == "failure"
    assert failed.details["error"] == "interrupted"

    tallies = rotate(batch=1)
    assert {key_id_of(t) for t in raw_tokens().values()} == {"new"}
    done_earlier = {k for k, t in halfway.items() if key_id_of(t) == "new"}
    assert all(raw_tokens()[k] == halfway[k] for k in done_earlier)
    assert sum(t.current for t in tallies) >= 2
    settings.FIELD_ENCRYPTION_KEYS = (NEW,)
    assert read_back() == world.plaintexts


def test_rotation_moves_neither_version_nor_updated_at(world: World, settings: Settings) -> None:
    def stamps() -> list[tuple[Any, ...]]:
        return [
            *Person.objects.order_by("pk").values_list("pk", "version", "updated_at"),
            *CPRequest.objects.order_by("pk").values_list("pk", "version", "updated_at"),
            *ImportJob.objects.order_by("pk").values_list("pk", "updated_at"),
        ]

    before = stamps()
    rotate_to_new(settings)
    assert stamps() == before


def test_rotation_is_audited_without_plaintext(world: World, settings: Settings) -> None:
    rotate_to_new(settings)
    started = AuditEvent.objects.get(action="keys.rotation_started")
    finished = AuditEvent.objects.get(action="keys.rotation_finished")
    assert started.seq < finished.seq
    assert started.actor_label == finished.actor_label == "cpnav keys rotate"
    assert started.details["to_key"] == "new"
    assert started.details["configured_keys"] == ["new", "old"]
    assert finished.details["models"]["cases.person"]["reencrypted"] == 2
    text = json.dumps([started.details, finished.details], ensure_ascii=False)
    for value in world.plaintexts.values():
        for piece in value if isinstance(value, list) else [value]:
            if isinstance(piece, str) and len(piece) > 3:
                assert piece not in text
    assert NEW.key.hex() not in text
    assert base64.b64encode(NEW.key).decode() not in text
    assert verify_chain().ok


def test_rotation_stops_at_a_key_that_is_not_configured(world: World, settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (NEW,)
    with pytest.raises(
        RotationError, match=r"key 'old', which is not in CPNAV_FIELD_KEYS"
    ) as caught:
        rotate()
    # Where, as the application names the row: a UUID, whatever the database stores.
    assert re.match(
        r"cases\.attachment\.original_name \(row [0-9a-f]{8}-[0-9a-f]{4}-", str(caught.value)
    )
    failed = AuditEvent.objects.get(action="keys.rotation_failed")
    assert "'old'" in failed.details["error"]
    assert {key_id_of(t) for t in raw_tokens().values()} == {"old"}


def test_rotation_stops_at_a_wrong_key_and_at_plaintext(world: World, settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (NEW, WRONG_OLD)
    with pytest.raises(RotationError, match=r"key 'old' in CPNAV_FIELD_KEYS does not decrypt"):
        rotate()

    pk = Person._meta.pk
    assert pk is not None
    table = connection.ops.quote_name(Person._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET full_name = %s WHERE id = %s",  # noqa: S608
            ["Plain: Secret Name", pk.get_db_prep_value(world.twin.pk, connection)],
        )
    settings.FIELD_ENCRYPTION_KEYS = (NEW, OLD)
    with pytest.raises(RotationError, match="not an encryption token") as caught:
        rotate()
    assert "Secret" not in str(caught.value)
    failures = AuditEvent.objects.filter(action="keys.rotation_failed")
    assert failures.count() == 2
    assert all("Secret" not in json.dumps(event.details) for event in failures)


def test_status_counts_values_per_key(world: World, settings: Settings) -> None:
    def by_field() -> dict[str, dict[str, int]]:
        return {f.context: f.counts for f in status()}

    before = by_field()
    assert before["cases.person.full_name"] == {"old": 2}
    assert before["imports.importfile.data"] == {"old": 1}
    rotate_to_new(settings)
    after = by_field()
    assert after["cases.person.full_name"] == {"new": 2}
    assert all(set(counts) == {"new"} for counts in after.values())

    out = StringIO()
    call_command("keys", "status", stdout=out)
    text = out.getvalue()
    assert "CPNAV_FIELD_KEYS, newest first: new, old" in text
    assert re.search(r"cases\.person\.full_name +new 2\n", text)
    assert "Key 'old': no values; it can be removed from CPNAV_FIELD_KEYS" in text


def test_status_names_keys_the_data_needs(world: World, settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (NEW,)
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("keys", "status", stdout=out)
    assert exited.value.code == 1
    assert "Key 'old' is not in CPNAV_FIELD_KEYS but holds" in out.getvalue()


def test_command_reports_progress(world: World, settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (NEW, OLD)
    out = StringIO()
    call_command("keys", "rotate", "--batch", "1", verbosity=2, stdout=out)
    text = out.getvalue()
    assert "Re-encrypting under key 'new' (CPNAV_FIELD_KEYS: new, old), 1 rows per batch." in text
    assert "cases.person: 1/2 rows, 1 re-encrypted (6 values), 0 already current" in text
    assert "cases.person: 2/2 rows, 2 re-encrypted (12 values), 0 already current" in text
    assert "Re-encrypted " in text
    for value in world.plaintexts.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in text


# The start-up check, in process


def test_check_is_registered_as_a_database_check() -> None:
    assert check_stored_keys in registry.registry.get_checks()
    assert Tags.database in check_stored_keys.tags  # type: ignore[attr-defined]


def test_check_passes_with_the_keys_that_encrypted_the_data(
    world: World, settings: Settings
) -> None:
    assert check_stored_keys(databases=["default"]) == []
    settings.FIELD_ENCRYPTION_KEYS = (NEW, OLD)
    assert check_stored_keys(databases=["default"]) == []
    assert check_stored_keys() == []  # no databases named: the default one


def test_check_names_a_missing_key(world: World, settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (NEW,)
    for errors in (check_stored_keys(databases=["default"]), check_stored_keys()):
        assert [e.id for e in errors] == ["cpnav.E002"]
        assert "field key 'old', which is not in CPNAV_FIELD_KEYS" in errors[0].msg
        assert "cases.person.full_name" in errors[0].msg
        assert "Add key 'old' back to CPNAV_FIELD_KEYS" in (errors[0].hint or "")


def test_check_names_a_wrong_key(world: World, settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (NEW, WRONG_OLD)
    errors = check_stored_keys(databases=["default"])
    assert [e.id for e in errors] == ["cpnav.E003"]
    assert "Field key 'old' in CPNAV_FIELD_KEYS does not decrypt" in errors[0].msg


def test_wsgi_guard_raises_with_the_same_message(world: World, settings: Settings) -> None:
    keys.require_readable_data()
    settings.FIELD_ENCRYPTION_KEYS = (NEW,)
    with pytest.raises(ImproperlyConfigured, match=r"cpnav\.E002: Stored values .* 'old'.* HINT"):
        keys.require_readable_data()


def test_check_refuses_plaintext_in_an_encrypted_column(world: World) -> None:
    table = connection.ops.quote_name(CPRequest._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET narrative = %s", ["Plain narrative"])  # noqa: S608
    errors = check_stored_keys(databases=["default"])
    assert [e.id for e in errors] == ["cpnav.E004"]
    assert "cases.cprequest.narrative holds values that are not encryption tokens" in errors[0].msg
    assert "Plain" not in errors[0].msg


def test_check_reads_a_bounded_sample(world: World, settings: Settings) -> None:
    rotate_to_new(settings, batch=1)
    with CaptureQueriesContext(connection) as queries:
        assert check_stored_keys(databases=["default"]) == []
    targets = protected_models()
    fields = sum(len(p.fields) for p in targets)
    sql = [q["sql"] for q in queries.captured_queries]
    samples = [q for q in sql if "SUBSTR(" in q]
    # Two samples per table, from either end of the primary-key index, never a scan.
    assert len(samples) == 2 * len(targets)
    assert all("ORDER BY" in q and q.rstrip().endswith(f"LIMIT {SAMPLE_ROWS}") for q in samples)
    assert not any("COUNT(" in q.upper() for q in sql)
    # Then one read by primary key per field and key id found (one key here), and
    # the introspection that tells a migrated database from one about to be.
    points = [q for q in sql if q not in samples and any(f'"{p.table}"' in q for p in targets)]
    assert len(points) <= fields + 2 * len(targets)


def test_check_sample_walks_the_primary_key_index(world: World) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's plan; PostgreSQL picks by table size (tiny here)")
    for p in protected_models():
        sql = keys._Sql(p, connection, p.fields)
        query = f"SELECT {sql.pk}, {sql.prefixes} FROM {sql.table} ORDER BY {sql.pk} DESC LIMIT 50"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {query}")
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert re.search(r"USING (COVERING )?INDEX", plan), (p.table, plan)
        assert "TEMP B-TREE" not in plan, (p.table, plan)


# ---------------------------------------------------------------------------
# Subprocesses: the real command line on a file-based SQLite database


def cpnav_env(db: Path, field_keys: str) -> dict[str, str]:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never does.
    skip = ("CPNAV_", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env.update(
        CPNAV_VAR_DIR=str(db.parent),
        DATABASE_URL=f"sqlite:///{db}",
        CPNAV_FIELD_KEYS=field_keys,
        CPNAV_INDEX_KEY=base64.b64encode(INDEX_KEY).decode(),
    )
    return env


def cpnav(db: Path, field_keys: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpnav.cli", *args],
        env=cpnav_env(db, field_keys), cwd=ROOT, capture_output=True, text=True, check=False,
        timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def synthetic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with a small synthetic data set under key 'old'."""
    db = tmp_path_factory.mktemp("keys") / "synthetic.sqlite3"
    for args in (("migrate", "-v", "0"),
                 ("synth", "--agencies", "20", "--cases", "300", "--audit-events", "10",
                  "--no-progress")):  # fmt: skip
        result = cpnav(db, _env_item(OLD), *args)
        assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(db)) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


@pytest.fixture
def db_file(synthetic_file: Path, tmp_path: Path) -> Path:
    db = tmp_path / "cpnav.sqlite3"
    shutil.copyfile(synthetic_file, db)
    return db


def file_tokens(db: Path) -> dict[tuple[str, str, str], str]:
    out = {}
    with closing(sqlite3.connect(db)) as con:
        for p in protected_models():
            columns = ", ".join(f'"{f.column}"' for f in p.fields)
            for pk, *tokens in con.execute(f'SELECT "{p.pk_column}", {columns} FROM "{p.table}"'):  # noqa: S608
                for f, token in zip(p.fields, tokens, strict=True):
                    if token is not None:
                        out[(p.label, str(pk), f.name)] = token
    return out


def decrypted(tokens: dict[tuple[str, str, str], str]) -> dict[tuple[str, str, str], str]:
    contexts = {(p.label, f.name): f.context for p in protected_models() for f in p.fields}
    return {k: decrypt(t, context=contexts[(k[0], k[2])]) for k, t in tokens.items()}


def rotate_until_killed(db: Path) -> list[str]:
    """Start a rotation, SIGKILL it once it has rewritten a few batches of people."""
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "cpnav.cli", "keys", "rotate", "--batch", "10", "--pause",
         "0.05", "-v", "2"],
        env=cpnav_env(db, f"{_env_item(NEW)},{_env_item(OLD)}"), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            progress = re.match(r"cases\.person: (\d+)/", line)
            if progress and int(progress.group(1)) >= 50:
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(lines)
    return lines


def test_rotation_killed_half_way_then_run_again(db_file: Path, settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (OLD,)
    before = file_tokens(db_file)
    plaintexts = decrypted(before)
    people = sum(1 for k in before if k[0] == "cases.person" and k[2] == "full_name")
    assert people > 100

    rotate_until_killed(db_file)
    halfway = file_tokens(db_file)
    person_keys = {key_id_of(t) for k, t in halfway.items() if k[0] == "cases.person"}
    assert person_keys == {"old", "new"}, "the kill should land half-way through the people"

    both = f"{_env_item(NEW)},{_env_item(OLD)}"
    result = cpnav(db_file, both, "keys", "rotate", "--batch", "50")
    assert result.returncode == 0, result.stderr
    assert re.search(r"cases\.person: \d+/\d+ rows, \d+ re-encrypted .*, [1-9]\d* already current",
                     result.stdout), result.stdout  # fmt: skip

    after = file_tokens(db_file)
    assert after.keys() == before.keys()
    assert {key_id_of(t) for t in after.values()} == {"new"}
    settings.FIELD_ENCRYPTION_KEYS = (NEW,)
    assert decrypted(after) == plaintexts

    # The old key can go: the data passes the start-up check without it.
    check = cpnav(db_file, _env_item(NEW), "check")
    assert check.returncode == 0, check.stderr
    status_now = cpnav(db_file, both, "keys", "status")
    assert status_now.returncode == 0, status_now.stdout
    assert "Key 'old': no values" in status_now.stdout


@pytest.mark.parametrize(
    ("command", "field_keys", "code", "message"),
    [
        (("check",), _env_item(NEW), "cpnav.E002",
         "field key 'old', which is not in CPNAV_FIELD_KEYS"),
        (("check",), _env_item(WRONG_OLD), "cpnav.E003",
         "Field key 'old' in CPNAV_FIELD_KEYS does not decrypt"),
        (("serve", "--bind", "127.0.0.1:0"), _env_item(WRONG_OLD), "cpnav.E003",
         "Field key 'old' in CPNAV_FIELD_KEYS does not decrypt"),
        (("migrate",), _env_item(NEW), "cpnav.E002",
         "field key 'old', which is not in CPNAV_FIELD_KEYS"),
        (("keys", "rotate"), _env_item(NEW), "cpnav.E002",
         "field key 'old', which is not in CPNAV_FIELD_KEYS"),
    ],
    ids=["check-missing", "check-wrong", "serve-wrong", "migrate-missing", "rotate-missing"],
)  # fmt: skip
def test_start_up_refuses_a_missing_or_wrong_key(
    db_file: Path, command: tuple[str, ...], field_keys: str, code: str, message: str
) -> None:
    result = cpnav(db_file, field_keys, *command)
    assert result.returncode == 1
    assert code in result.stderr
    assert message in result.stderr
    assert "Serving on" not in result.stdout


def test_check_leaves_a_missing_database_alone(tmp_path: Path) -> None:
    db = tmp_path / "absent.sqlite3"
    result = cpnav(db, _env_item(NEW), "check")
    assert result.returncode == 0, result.stderr
    assert not db.exists()
