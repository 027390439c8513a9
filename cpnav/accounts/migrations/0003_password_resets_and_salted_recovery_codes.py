"""Administrator-started password resets; recovery codes move to salted slow hashes.

Existing recovery codes are withdrawn rather than carried over. They were about
49 bits stored as unsalted SHA-256, so anyone holding a copy of the database could
recover them; and the codes themselves are not kept, so they cannot be re-hashed.
People learn at their next sign-in (and on their account page) that they have no
codes and make new ones; someone who loses their authenticator meanwhile asks an
agency administrator to reset it.
"""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def withdraw_old_recovery_codes(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("accounts", "RecoveryCode").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_tokens"),
    ]

    operations = [
        migrations.CreateModel(
            name="PasswordReset",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("token_hash", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField()),
                ("used_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "agency",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.agency",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="password_resets",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        # The table is emptied first, so the new required column needs no backfill.
        migrations.RunPython(withdraw_old_recovery_codes, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="recoverycode",
            name="recovery_code_unique",
        ),
        migrations.AddField(
            model_name="recoverycode",
            name="tag",
            field=models.CharField(default="", max_length=8),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="recoverycode",
            name="code_hash",
            field=models.CharField(max_length=255),
        ),
        migrations.AddConstraint(
            model_name="recoverycode",
            constraint=models.UniqueConstraint(
                fields=("user", "tag"), name="recovery_code_tag_unique"
            ),
        ),
    ]
