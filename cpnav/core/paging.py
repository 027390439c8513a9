"""Pages of long lists without counting every row.

A national list (CCHT's inbox, the audit trail) can hold hundreds of thousands
of rows; an exact count reads them all on every page. ``CappedPaginator``
counts at most ``cap`` + 1 rows: beyond that the page says "more than N" and
the last reachable page is the one holding row N + 1 - the filters narrow the
rest.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.formats import number_format
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    def __init__(self, object_list: QuerySet[Any], per_page: int, cap: int = COUNT_CAP) -> None:
        super().__init__(object_list, per_page)
        self.rows = object_list
        self.cap = cap

    @cached_property
    def count(self) -> int:
        # Without the ordering: which rows are counted does not matter, and sorting
        # every matching row to count the first few would cost what the cap saves.
        counted: int = self.rows.order_by()[: self.cap + 1].count()
        return counted

    @property
    def capped(self) -> bool:
        """True when there are more rows than were counted."""
        return self.count > self.cap

    @property
    def cap_label(self) -> str:
        return number_format(self.cap, force_grouping=True)
