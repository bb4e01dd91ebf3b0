"""A tree file is checked against its declared schema: unknown keys and wrong types are
refused with ``file:line: screen 'id': message``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.menu.loader import TreeError, load_tree_text
from tests.menu.test_validator import GOOD, check, only


def test_a_misspelt_end_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    text = GOOD.replace('    text: {en: "Some info"', '    ned: true\n    text: {en: "Some info"')
    problem = only(check(tmp_path, text))
    assert problem.screen == "info" and problem.line == 22
    assert problem.message == "unknown key 'ned' (did you mean 'end'?)"
    assert str(problem).endswith(
        "tree.yaml:22: screen 'info': unknown key 'ned' (did you mean 'end'?)"
    )


def test_a_wrong_type_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("    type: text\n", "    type: text\n    end: maybe\n")
    problem = only(check(tmp_path, text))
    assert problem.screen == "info" and "'end'" in problem.message and "boolean" in problem.message


def test_an_unknown_option_key_is_refused_on_the_option_line(tmp_path: Path) -> None:
    text = GOOD.replace("goto: info, label:", "goto: info, lable: {en: x}, label:")
    problem = only(check(tmp_path, text))
    assert problem.screen == "main" and problem.line == 19
    assert problem.message == "unknown key 'lable' (did you mean 'label'?)"


def test_an_unknown_top_level_key_or_navigation_word_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("start: main", "strat: main\nstart: main").replace(
        "  more: {en:", "  moer: {en: x}\n  more: {en:"
    )
    problems = check(tmp_path, text)
    assert [p.message for p in problems] == [
        "unknown key 'strat' (did you mean 'start'?)",
        "unknown key 'moer' (did you mean 'more'?)",
    ]
    assert [p.line for p in problems] == [3, 8]


def test_a_tree_with_an_alias_is_refused_with_its_line() -> None:
    text = GOOD.replace("language_names: {en: English", "language_names: &names {en: English")
    with pytest.raises(TreeError) as caught:
        load_tree_text(text, "tree.yaml", {})
    (problem,) = caught.value.problems
    assert problem.line == 5 and "anchors (&names)" in problem.message


def test_numbers_written_as_option_keys_read_as_text(tmp_path: Path) -> None:
    assert check(tmp_path, GOOD.replace('key: "1"', "key: 1")) == []
