"""The guide's search index: one row per page, and the content fingerprint it was built from.

The full-text structures are per database: an FTS5 table on SQLite and a
tsvector column with a GIN index on PostgreSQL (see migrations/0002).
"""

from __future__ import annotations

from django.db import models


class SearchDocument(models.Model):
    lang = models.CharField(max_length=2)
    slug = models.CharField(max_length=80)
    title = models.CharField(max_length=200)
    summary = models.TextField()
    body = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lang", "slug"], name="guide_document_unique")
        ]

    def __str__(self) -> str:
        return f"{self.lang}/{self.slug}"


class SearchIndexState(models.Model):
    fingerprint = models.CharField(max_length=32)
    built_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.fingerprint
