"""Wall-clock times in a named zone: skipped and repeated times are refused, not shifted."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from cpnav.engagement.times import US_TIME_ZONES, TimeError, local, today_in, zone

# Second Sunday of March (02:00 -> 03:00) and first Sunday of November (02:00 -> 01:00).
SPRING = {2026: date(2026, 3, 8), 2027: date(2027, 3, 14), 2030: date(2030, 3, 10)}
FALL = {2026: date(2026, 11, 1), 2027: date(2027, 11, 7), 2030: date(2030, 11, 3)}


@pytest.mark.parametrize(
    ("day", "at", "zone_name"),
    [
        pytest.param(SPRING[2026], time(2, 30), "America/New_York", id="ny-2026-0230"),
        pytest.param(SPRING[2027], time(2, 0), "America/New_York", id="ny-2027-0200"),
        pytest.param(SPRING[2030], time(2, 59), "America/New_York", id="ny-2030-0259"),
        pytest.param(SPRING[2026], time(2, 30), "America/Chicago", id="chicago"),
        pytest.param(SPRING[2026], time(2, 15), "America/Los_Angeles", id="los-angeles"),
        pytest.param(SPRING[2026], time(2, 45), "America/Anchorage", id="anchorage"),
    ],
)
def test_a_skipped_time_is_refused(day: date, at: time, zone_name: str) -> None:
    with pytest.raises(TimeError, match="does not exist") as refused:
        local(day, at, zone_name)
    message = str(refused.value)
    assert at.strftime("%H:%M") in message
    assert day.isoformat() in message
    assert zone_name in message
    assert "go forward" in message


@pytest.mark.parametrize(
    ("day", "at", "zone_name"),
    [
        pytest.param(FALL[2026], time(1, 30), "America/New_York", id="ny-2026-0130"),
        pytest.param(FALL[2027], time(1, 0), "America/New_York", id="ny-2027-0100"),
        pytest.param(FALL[2030], time(1, 59), "America/New_York", id="ny-2030-0159"),
        pytest.param(FALL[2026], time(1, 30), "America/Denver", id="denver"),
        pytest.param(FALL[2026], time(1, 30), "America/Adak", id="adak"),
    ],
)
def test_a_repeated_time_is_refused(day: date, at: time, zone_name: str) -> None:
    with pytest.raises(TimeError, match="happens twice") as refused:
        local(day, at, zone_name)
    message = str(refused.value)
    assert at.strftime("%H:%M") in message
    assert day.isoformat() in message
    assert "go back" in message


@pytest.mark.parametrize(
    ("day", "at", "zone_name", "offset_hours"),
    [
        # Either side of the spring-forward gap, and the day before and after.
        pytest.param(SPRING[2026], time(1, 59), "America/New_York", -5, id="just-before-gap"),
        pytest.param(SPRING[2026], time(3, 0), "America/New_York", -4, id="just-after-gap"),
        pytest.param(
            SPRING[2026] - timedelta(days=1),
            time(2, 30),
            "America/New_York",
            -5,
            id="day-before-spring",
        ),
        pytest.param(
            SPRING[2026] + timedelta(days=1),
            time(2, 30),
            "America/New_York",
            -4,
            id="day-after-spring",
        ),
        # Either side of the repeated hour in the fall.
        pytest.param(FALL[2026], time(0, 59), "America/New_York", -4, id="before-repeat"),
        pytest.param(FALL[2026], time(2, 0), "America/New_York", -5, id="after-repeat"),
        pytest.param(
            FALL[2026] - timedelta(days=1),
            time(1, 30),
            "America/New_York",
            -4,
            id="day-before-fall",
        ),
        # Winter and summer afternoons.
        pytest.param(date(2027, 1, 15), time(14, 0), "America/New_York", -5, id="ny-january"),
        pytest.param(date(2027, 7, 15), time(14, 0), "America/New_York", -4, id="ny-july"),
        pytest.param(date(2027, 1, 15), time(9, 0), "America/Los_Angeles", -8, id="la-january"),
        pytest.param(date(2027, 7, 15), time(9, 0), "America/Los_Angeles", -7, id="la-july"),
        pytest.param(date(2027, 7, 15), time(9, 0), "Pacific/Honolulu", -10, id="honolulu"),
        pytest.param(date(2027, 7, 15), time(9, 0), "Pacific/Guam", 10, id="guam"),
        pytest.param(date(2027, 7, 15), time(9, 0), "America/Puerto_Rico", -4, id="puerto-rico"),
    ],
)
def test_normal_times_get_the_right_offset(
    day: date, at: time, zone_name: str, offset_hours: int
) -> None:
    moment = local(day, at, zone_name)
    assert moment.utcoffset() == timedelta(hours=offset_hours)
    assert (moment.date(), moment.time()) == (day, at)
    assert moment.tzinfo is not None
    assert str(moment.tzinfo) == zone_name
    # The UTC moment is the wall-clock time less the offset.
    naive_utc = datetime.combine(day, at) - timedelta(hours=offset_hours)
    assert moment.astimezone(UTC).replace(tzinfo=None) == naive_utc


@pytest.mark.parametrize(
    ("day", "at"),
    [
        pytest.param(SPRING[2026], time(2, 30), id="spring-forward-night"),
        pytest.param(FALL[2026], time(1, 30), id="fall-back-night"),
        pytest.param(date(2027, 1, 15), time(14, 0), id="winter"),
        pytest.param(date(2027, 7, 15), time(14, 0), id="summer"),
    ],
)
def test_arizona_has_no_daylight_saving(day: date, at: time) -> None:
    moment = local(day, at, "America/Phoenix")
    assert moment.utcoffset() == timedelta(hours=-7)
    assert moment.time() == at


def test_an_aware_time_of_day_is_read_as_wall_clock() -> None:
    """A time carrying its own zone or fold is read as the wall clock of the named zone."""
    moment = local(date(2027, 7, 15), time(14, 0, tzinfo=UTC, fold=1), "America/New_York")
    assert moment.astimezone(UTC) == datetime(2027, 7, 15, 18, 0, tzinfo=UTC)
    with pytest.raises(TimeError, match="happens twice"):
        local(FALL[2026], time(1, 30, fold=1), "America/New_York")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Mars/Olympus", id="mars"),
        pytest.param("", id="empty"),
        pytest.param("EST5EDT-ish", id="almost"),
        pytest.param("america/new_york", id="wrong-case"),
        pytest.param(" America/New_York", id="leading-space"),
        pytest.param("../../etc/passwd", id="path"),
        pytest.param("Z" * 300, id="very-long"),
    ],
)
def test_an_unknown_zone_is_refused_with_a_message(name: str) -> None:
    with pytest.raises(TimeError, match="is not a time zone") as refused:
        local(date(2027, 7, 15), time(14, 0), name)
    message = str(refused.value)
    assert f'"{name[:64]}"' in message
    assert "America/Chicago" in message  # an example of a name that works
    assert len(message) < 200  # a long name is cut short
    with pytest.raises(TimeError):
        zone(name)
    with pytest.raises(TimeError):
        today_in(name, datetime.now(UTC))


@pytest.mark.parametrize(("name", "label"), US_TIME_ZONES)
def test_every_offered_zone_is_known(name: str, label: str) -> None:
    assert str(zone(name)) == name
    assert label
    assert local(date(2027, 7, 15), time(12, 0), name).tzinfo is not None


@pytest.mark.parametrize(
    ("now", "zone_name", "expected"),
    [
        # 03:30 UTC on 15 January is still the 14th in New York and Honolulu, the 15th in Guam.
        pytest.param(
            datetime(2027, 1, 15, 3, 30, tzinfo=UTC),
            "America/New_York",
            date(2027, 1, 14),
            id="new-york",
        ),
        pytest.param(
            datetime(2027, 1, 15, 3, 30, tzinfo=UTC),
            "Pacific/Honolulu",
            date(2027, 1, 14),
            id="honolulu",
        ),
        pytest.param(
            datetime(2027, 1, 15, 3, 30, tzinfo=UTC), "Pacific/Guam", date(2027, 1, 15), id="guam"
        ),
    ],
)
def test_today_in_a_zone(now: datetime, zone_name: str, expected: date) -> None:
    assert today_in(zone_name, now) == expected
