"""Rule sets, citations and explanation files: shipped data and broken data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cpnav.policy import NoRuleSetError, PolicyDataError, rule_set_for, rule_sets
from cpnav.policy._data import RULES_DIR
from cpnav.policy.citations import CITATIONS_FILE, citations, load_citations
from cpnav.policy.rulesets import RULE_SETS_DIR, find_rule_set, load_rule_sets
from cpnav.policy.texts import EXPLANATIONS_FILE, load_texts

ONE_YEAR = "cp-2001-08-23-1y"
TWO_YEAR = "cp-2021-07-30-2y"


# --- shipped data ------------------------------------------------------------


def test_shipped_rule_sets_tile_time_from_2001() -> None:
    sets = rule_sets()
    assert [s.id for s in sets] == [ONE_YEAR, TWO_YEAR]
    one, two = sets
    assert (one.effective_from, one.effective_to) == (date(2001, 8, 23), date(2021, 7, 29))
    assert (one.term_years, one.max_extension_years) == (1, 1)
    assert (two.effective_from, two.effective_to) == (date(2021, 7, 30), None)
    assert (two.term_years, two.max_extension_years) == (2, 2)


def test_two_year_rule_set_says_the_changeover_date_is_unknown() -> None:
    two = rule_set_for(date(2022, 1, 1))
    assert "unknown" in two.note
    text = (RULE_SETS_DIR / "cp-2021-07-30-two-year.toml").read_text(encoding="utf-8")
    assert "EARLIEST DATE WE CAN CONFIRM" in text
    assert "UNKNOWN" in text


def test_one_year_file_explains_its_start_date() -> None:
    text = (RULE_SETS_DIR / "cp-2001-08-23-one-year.toml").read_text(encoding="utf-8")
    assert "interim rule" in text
    assert "1100.35" in text


def test_every_rule_set_cites_something_with_a_label() -> None:
    for rule_set in rule_sets():
        assert rule_set.citations
        assert all(c.label for c in rule_set.citations)


def test_rule_sets_are_loaded_once() -> None:
    assert rule_sets() is rule_sets()
    assert citations() is citations()


@pytest.mark.parametrize(
    "path",
    sorted(RULES_DIR.rglob("*.toml")),
    ids=lambda p: str(p.relative_to(RULES_DIR)),
)
def test_every_shipped_file_validates(path: Path) -> None:
    if path == CITATIONS_FILE:
        assert load_citations(path)
    elif path == EXPLANATIONS_FILE:
        assert load_texts(path).criteria
    else:
        assert path.parent == RULE_SETS_DIR
        assert any(s.effective_from for s in load_rule_sets(path.parent))


def test_citations_used_by_the_engine_exist() -> None:
    labels = {c.label for c in citations().values()}
    for needed in (
        "22 U.S.C. 7105(c)(3)",
        "28 C.F.R. 1100.35",
        "18 U.S.C. 1595",
        "22 U.S.C. 7105(b)(1)(G)",
        "22 U.S.C. 7105(b)(1)(E)",
        "22 U.S.C. 7102(11)",
    ):
        assert needed in labels


# --- rule_set_for boundaries ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2001, 8, 23), ONE_YEAR),
        (date(2015, 6, 1), ONE_YEAR),
        (date(2021, 7, 29), ONE_YEAR),
        (date(2021, 7, 30), TWO_YEAR),
        (date(2099, 12, 31), TWO_YEAR),
    ],
)
def test_rule_set_for(day: date, expected: str) -> None:
    assert rule_set_for(day).id == expected


def test_rule_set_for_before_the_first_rule_set_is_a_clear_error() -> None:
    with pytest.raises(NoRuleSetError, match=r"2001-08-22.*2001-08-23"):
        rule_set_for(date(2001, 8, 22))


# --- broken files -----------------------------------------------------------------

GOOD_A = """
id = "a"
effective_from = 2001-01-01
effective_to = 2010-12-31
term_years = 1
max_extension_years = 1
note = "first"
citations = ["usc22_7105_c3_continued_presence"]
"""

GOOD_B = """
id = "b"
effective_from = 2011-01-01
term_years = 2
max_extension_years = 2
note = "second"
citations = ["usc22_7105_c3_continued_presence"]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_pair_loads(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD_A)
    write(tmp_path, "b.toml", GOOD_B)
    sets = load_rule_sets(tmp_path)
    assert [s.id for s in sets] == ["a", "b"]
    assert find_rule_set(sets, date(2011, 1, 1)).id == "b"


def test_missing_field_names_file_and_field(tmp_path: Path) -> None:
    write(tmp_path, "broken.toml", GOOD_A.replace("term_years = 1\n", ""))
    with pytest.raises(PolicyDataError, match=r"broken\.toml.*term_years"):
        load_rule_sets(tmp_path)


def test_overlapping_dates_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD_A)
    write(tmp_path, "b.toml", GOOD_B.replace("2011-01-01", "2010-06-01"))
    with pytest.raises(PolicyDataError, match="overlap") as info:
        load_rule_sets(tmp_path)
    assert "a.toml" in str(info.value)
    assert "b.toml" in str(info.value)


def test_gap_between_rule_sets_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD_A)
    write(tmp_path, "b.toml", GOOD_B.replace("2011-01-01", "2011-01-02"))
    with pytest.raises(PolicyDataError, match=r"b\.toml.*gap.*a\.toml"):
        load_rule_sets(tmp_path)


def test_only_the_latest_rule_set_may_be_open_ended(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD_A.replace("effective_to = 2010-12-31\n", ""))
    write(tmp_path, "b.toml", GOOD_B)
    with pytest.raises(PolicyDataError, match=r"a\.toml.*open-ended"):
        load_rule_sets(tmp_path)


def test_end_before_start_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "bad.toml", GOOD_A.replace("2010-12-31", "2000-12-31"))
    with pytest.raises(PolicyDataError, match=r"bad\.toml.*effective_to"):
        load_rule_sets(tmp_path)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD_A)
    write(tmp_path, "b.toml", GOOD_B.replace('id = "b"', 'id = "a"'))
    with pytest.raises(PolicyDataError, match=r"b\.toml.*'a'.*a\.toml"):
        load_rule_sets(tmp_path)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "typo.toml", GOOD_A + "term_yaers = 3\n")
    with pytest.raises(PolicyDataError, match=r"typo\.toml.*term_yaers"):
        load_rule_sets(tmp_path)


def test_unknown_citation_id_is_refused(tmp_path: Path) -> None:
    write(
        tmp_path, "cite.toml", GOOD_A.replace("usc22_7105_c3_continued_presence", "no_such_source")
    )
    with pytest.raises(PolicyDataError, match=r"cite\.toml.*no_such_source"):
        load_rule_sets(tmp_path)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "syntax.toml", GOOD_A + "note = \n")
    with pytest.raises(PolicyDataError, match=r"syntax\.toml.*invalid TOML.*line"):
        load_rule_sets(tmp_path)


def test_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyDataError, match="no rule set files"):
        load_rule_sets(tmp_path)


def test_date_after_a_closed_last_rule_set(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD_A)
    sets = load_rule_sets(tmp_path)
    with pytest.raises(NoRuleSetError, match="ended"):
        find_rule_set(sets, date(2011, 1, 1))


def test_broken_citations_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "citations.toml",
        '[[citation]]\nid = "x"\nlabel = "X"\n[[citation]]\nid = "x"\nlabel = "Y"\nurl = "not a url"\n',
    )
    with pytest.raises(PolicyDataError, match=r"citations\.toml.*(duplicate|url)"):
        load_citations(path)


def test_explanations_file_must_cover_every_entry(tmp_path: Path) -> None:
    text = EXPLANATIONS_FILE.read_text(encoding="utf-8")
    broken = text.replace(
        "[actions.find_federal_partner.default]", "[actions.find_federal_partnr.default]"
    )
    path = write(tmp_path, "explanations.toml", broken)
    with pytest.raises(PolicyDataError) as info:
        load_texts(path)
    message = str(info.value)
    assert "explanations.toml" in message
    assert "actions.find_federal_partner.default: missing" in message
    assert "find_federal_partnr" in message
