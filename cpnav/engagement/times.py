"""Wall-clock times in a named zone, checked the way a person would check them.

A meeting is arranged in local time. Twice a year that is treacherous: on the
spring-forward day 2:30 a.m. never happens, and on the fall-back day 1:30 a.m.
happens twice. Both are refused with a message saying so, rather than silently
shifted by an hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The zones offered in forms: the states, D.C. and the territories. The API takes any IANA name.
US_TIME_ZONES: Final = (
    ("America/New_York", gettext_lazy("Eastern (New York)")),
    ("America/Chicago", gettext_lazy("Central (Chicago)")),
    ("America/Denver", gettext_lazy("Mountain (Denver)")),
    ("America/Phoenix", gettext_lazy("Mountain, no daylight saving (Phoenix)")),
    ("America/Los_Angeles", gettext_lazy("Pacific (Los Angeles)")),
    ("America/Anchorage", gettext_lazy("Alaska (Anchorage)")),
    ("America/Adak", gettext_lazy("Hawaii-Aleutian (Adak)")),
    ("Pacific/Honolulu", gettext_lazy("Hawaii (Honolulu)")),
    ("America/Puerto_Rico", gettext_lazy("Atlantic (Puerto Rico, U.S. Virgin Islands)")),
    ("Pacific/Guam", gettext_lazy("Chamorro (Guam, Northern Mariana Islands)")),
    ("Pacific/Pago_Pago", gettext_lazy("Samoa (American Samoa)")),
)
_KNOWN: Final = frozenset(available_timezones())


class TimeError(ValueError):
    """A time that cannot be used, with the reason to show."""


def zone(name: str) -> ZoneInfo:
    if name not in _KNOWN:
        raise TimeError(
            _('"%(name)s" is not a time zone. Use a name such as America/Chicago.')
            % {"name": name[:64]}
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:  # pragma: no cover - listed but absent
        raise TimeError(_('"%(name)s" is not a time zone.') % {"name": name[:64]}) from error


def local(day: date, at: time, zone_name: str) -> datetime:
    """The aware moment for a wall-clock time, refusing one that is skipped or repeated."""
    tz = zone(zone_name)
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=tz)
    back = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != naive:
        raise TimeError(
            _(
                "%(time)s does not exist on %(day)s in %(zone)s: the clocks go forward "
                "that night. Choose another time."
            )
            % {"time": at.strftime("%H:%M"), "day": day.isoformat(), "zone": zone_name}
        )
    if first.utcoffset() != naive.replace(tzinfo=tz, fold=1).utcoffset():
        raise TimeError(
            _(
                "%(time)s happens twice on %(day)s in %(zone)s: the clocks go back "
                "that night. Choose another time."
            )
            % {"time": at.strftime("%H:%M"), "day": day.isoformat(), "zone": zone_name}
        )
    return first


def today_in(zone_name: str, now: datetime) -> date:
    return now.astimezone(zone(zone_name)).date()
