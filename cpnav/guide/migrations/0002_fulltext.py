"""Full-text structures that Django's ORM does not model: per database vendor."""

from typing import Any

from django.db import migrations

SQLITE_UP = """
CREATE VIRTUAL TABLE guide_fts USING fts5(
    title, summary, body,
    content='guide_searchdocument', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
)
"""
POSTGRES_UP = [
    "ALTER TABLE guide_searchdocument ADD COLUMN document tsvector",
    "CREATE INDEX guide_document_fts ON guide_searchdocument USING gin (document)",
]


def forwards(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_UP)
    elif vendor == "postgresql":
        for statement in POSTGRES_UP:
            schema_editor.execute(statement)


def backwards(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS guide_fts")
    elif vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS guide_document_fts")
        schema_editor.execute("ALTER TABLE guide_searchdocument DROP COLUMN IF EXISTS document")


class Migration(migrations.Migration):
    dependencies = [("guide", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
