"""Shared state of the app servers that is not case data."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """One fixed-window counter per key (a scope and an address, or a token prefix).

    A row per key, moved to the new window by the same statement that counts
    (see cpnav.core.ratelimit), so every app server counts against one budget
    with a single round trip and no lock held across statements.
    """

    key = models.CharField(max_length=200, unique=True)
    window_index = models.BigIntegerField()
    count = models.PositiveIntegerField()
    resets_at = models.BigIntegerField(db_index=True, help_text="Unix time the window ends")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
