from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("lang", models.CharField(max_length=2)),
                ("slug", models.CharField(max_length=80)),
                ("title", models.CharField(max_length=200)),
                ("summary", models.TextField()),
                ("body", models.TextField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("lang", "slug"), name="guide_document_unique")
                ]
            },
        ),
        migrations.CreateModel(
            name="SearchIndexState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("fingerprint", models.CharField(max_length=32)),
                ("built_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
