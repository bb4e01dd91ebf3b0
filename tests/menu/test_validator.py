from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.menu.loader import Problem
from gateway.menu.pages import Limit
from gateway.menu.validator import check_file
from tests.conftest import CONTENT, SAMPLE_TREE

GOOD = """\
tree: tiny
languages: [en, fr]
start: main
home: main
language_names: {en: English, fr: Français}
navigation:
  more: {en: "98 More", fr: "98 Suite"}
  back: {en: "0 Back", fr: "0 Retour"}
  home: {en: "00 Home", fr: "00 Accueil"}
  invalid: {en: "Invalid choice.", fr: "Choix invalide."}
  exit: {en: "Bye.", fr: "Au revoir."}
  resume: {en: "Continue?\\n1 Yes\\n2 No", fr: "Reprendre?\\n1 Oui\\n2 Non"}
  unavailable: {en: "Busy.", fr: "Occupé."}
screens:
  main:
    type: menu
    text: {en: "Welcome", fr: "Bienvenue"}
    options:
      - {key: "1", goto: info, label: {en: "Info", fr: "Infos"}}
  info:
    type: text
    text: {en: "Some info", fr: "Des infos"}
"""


def check(tmp_path: Path, text: str, limit: int = 182) -> list[Problem]:
    path = tmp_path / "tree.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    _, problems = check_file(path, CONTENT, Limit(limit))
    return problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_the_sample_tree_validates_at_182_and_160() -> None:
    for limit in (182, 160):
        _, problems = check_file(SAMPLE_TREE, CONTENT, Limit(limit))
        assert problems == []


def test_a_good_tree_has_no_problems(tmp_path: Path) -> None:
    assert check(tmp_path, GOOD) == []


def test_a_dangling_link_is_named_with_its_line(tmp_path: Path) -> None:
    problem = only(check(tmp_path, GOOD.replace("goto: info", "goto: nowhere")))
    assert problem.screen == "main"
    assert "missing screen 'nowhere'" in problem.message
    assert (
        problem.line
        == GOOD.splitlines().index(
            '      - {key: "1", goto: info, label: {en: "Info", fr: "Infos"}}'
        )
        + 1
    )
    assert str(problem).startswith(f"{tmp_path / 'tree.yaml'}:{problem.line}: screen 'main':")


def test_an_unreachable_screen_is_reported(tmp_path: Path) -> None:
    tree = GOOD + '  orphan:\n    type: text\n    text: {en: "x", fr: "y"}\n'
    problem = only(check(tmp_path, tree))
    assert problem.screen == "orphan" and "unreachable" in problem.message
    assert problem.line == len(GOOD.splitlines()) + 1


def test_a_missing_translation_is_reported(tmp_path: Path) -> None:
    problem = only(
        check(tmp_path, GOOD.replace('{en: "Some info", fr: "Des infos"}', '{en: "Some info"}'))
    )
    assert problem.screen == "info" and "no 'fr' translation" in problem.message


def test_a_missing_option_label_translation_is_reported(tmp_path: Path) -> None:
    problem = only(
        check(tmp_path, GOOD.replace('label: {en: "Info", fr: "Infos"}', 'label: {en: "Info"}'))
    )
    assert "option '1' label has no 'fr' translation" in problem.message


def test_duplicate_and_reserved_option_keys_are_reported(tmp_path: Path) -> None:
    dup = GOOD.replace(
        '      - {key: "1", goto: info, label: {en: "Info", fr: "Infos"}}',
        '      - {key: "1", goto: info, label: {en: "Info", fr: "Infos"}}\n'
        '      - {key: "1", goto: info, label: {en: "Again", fr: "Encore"}}\n'
        '      - {key: "98", goto: info, label: {en: "More", fr: "Plus"}}',
    )
    messages = [p.message for p in check(tmp_path, dup)]
    assert "duplicate option key '1'" in messages
    assert any("'98' is reserved" in m for m in messages)


@pytest.mark.parametrize("limit", [182, 160])
def test_a_screen_too_long_for_one_page_is_paginated_but_a_closing_one_is_refused(
    tmp_path: Path, limit: int
) -> None:
    long = "word " * 60
    paged = GOOD.replace('{en: "Some info", fr: "Des infos"}', f'{{en: "{long}", fr: "{long}"}}')
    assert check(tmp_path, paged, limit) == []
    closing = paged.replace("    type: text\n", "    type: text\n    end: true\n")
    problems = check(tmp_path, closing, limit)
    assert {p.message.split("]")[0] for p in problems} == {"[en", "[fr"}
    assert all("closing screen must fit one page" in p.message for p in problems)


def test_a_footer_that_leaves_no_room_is_reported(tmp_path: Path) -> None:
    huge = "M" * 200
    tree = GOOD.replace(
        'more: {en: "98 More", fr: "98 Suite"}', f'more: {{en: "{huge}", fr: "98"}}'
    )
    tree = tree.replace('{en: "Some info", fr: "Des infos"}', '{en: "' + "x " * 150 + '", fr: "y"}')
    problems = check(tmp_path, tree)
    assert any(p.screen == "info" and "leave 0 for the text" in p.message for p in problems)


def test_arabic_is_measured_in_ucs2(tmp_path: Path) -> None:
    arabic = "مرحبا بكم " * 9  # 90 UCS-2 units: over 79 on one page, paginated
    tree = GOOD.replace('{en: "Some info", fr: "Des infos"}', f'{{en: "{arabic}", fr: "x"}}')
    tree = tree.replace("    type: text\n", "    type: text\n    end: true\n")
    problem = only(check(tmp_path, tree))
    assert "[en] a closing screen must fit one page" in problem.message


def test_structural_faults_name_the_screen(tmp_path: Path) -> None:
    problem = only(check(tmp_path, GOOD.replace("type: text", "type: video")))
    assert problem.screen == "info" and "unknown type 'video'" in problem.message


def test_a_content_screen_naming_a_missing_entry_is_reported(tmp_path: Path) -> None:
    tree = GOOD.replace(
        '    type: text\n    text: {en: "Some info", fr: "Des infos"}',
        "    type: content\n    catalog: warnings\n    entries: [no-such-entry]",
    )
    problem = only(check(tmp_path, tree))
    assert "catalog 'warnings' has no entry 'no-such-entry'" in problem.message


def test_invalid_yaml_reports_its_line(tmp_path: Path) -> None:
    problem = only(check(tmp_path, GOOD + "  broken: [\n"))
    assert "not valid YAML" in problem.message and problem.line > 0


def test_an_input_error_text_must_fit_one_screen(tmp_path: Path) -> None:
    tree = GOOD.replace(
        '    type: text\n    text: {en: "Some info", fr: "Des infos"}',
        "    type: input\n    validate: digits\n    goto: main\n"
        '    text: {en: "Type a number", fr: "Un nombre"}\n'
        '    error: {en: "' + "no " * 70 + '", fr: "Non"}',
    )
    problem = only(check(tmp_path, tree))
    assert problem.screen == "info" and "[en] the error text must fit one screen" in problem.message
