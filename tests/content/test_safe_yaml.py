"""The one YAML reader: anchors, aliases, duplicate keys and deep nesting refused with
their line; anything else parsed as PyYAML's safe loader would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.content.safe_yaml import MAX_DEPTH, YAMLRefused, load_yaml, read_yaml_text

ROOT = Path(__file__).resolve().parents[2]


def alias_bomb(levels: int = 9) -> str:
    """The classic "billion laughs": each level lists the previous one nine times."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels + 1):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    return "\n".join(lines) + "\n"


def test_a_1kb_alias_bomb_is_refused_at_its_first_anchor() -> None:
    bomb = alias_bomb()
    assert len(bomb.encode()) <= 1024
    with pytest.raises(YAMLRefused, match=r"t\.yaml:1: YAML anchors \(&a0\) are not allowed"):
        read_yaml_text(bomb, "t.yaml")


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(YAMLRefused, match="anchors"):
        load_yaml("screens:\n  a: &loop [*loop]\n")


def test_an_alias_without_its_anchor_is_refused_on_its_own_line() -> None:
    with pytest.raises(YAMLRefused) as caught:
        read_yaml_text("a: 1\nb: *nowhere\n", "t.yaml")
    assert caught.value.line == 2 and "aliases (*nowhere)" in caught.value.message


def test_a_merge_key_needs_an_alias_so_it_is_refused_too() -> None:
    with pytest.raises(YAMLRefused):
        load_yaml("base: &b {x: 1}\nother:\n  <<: *b\n")


def test_a_key_given_twice_is_refused_with_the_second_line() -> None:
    with pytest.raises(YAMLRefused) as caught:
        read_yaml_text("end: false\ntext: x\nend: true\n", "t.yaml")
    assert caught.value.line == 3 and "'end' is given twice" in caught.value.message


@pytest.mark.parametrize(
    "document",
    [
        "[" * 1000 + "]" * 1000,
        "{a: " * 500 + "}" * 500,
        "".join("  " * i + f"k{i}:\n" for i in range(60)),
    ],
)
def test_deep_nesting_is_refused(document: str) -> None:
    with pytest.raises(YAMLRefused, match=f"deeper than {MAX_DEPTH}"):
        load_yaml(document)


def test_python_tags_are_refused_as_by_the_safe_loader() -> None:
    with pytest.raises(YAMLRefused, match="not valid YAML"):
        load_yaml("x: !!python/object/apply:os.system [echo hi]\n")


def test_lines_are_kept_for_every_value_and_item() -> None:
    document = read_yaml_text("a:\n  b: [1, 2]\n  c:\n    - x\n    - y\n", "t.yaml")
    assert document.data == {"a": {"b": [1, 2], "c": ["x", "y"]}}
    assert document.line_of(("a", "c", 1)) == 5
    assert document.line_of(("a", "b")) == 2
    assert document.line_of(("a", "missing", 3)) == 1  # nearest ancestor


def test_the_shipped_files_read_exactly_as_the_safe_loader_reads_them() -> None:
    files = [*sorted((ROOT / "menus").glob("*.yaml")), *sorted((ROOT / "content").glob("*.yaml"))]
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert load_yaml(text, str(path)) == yaml.safe_load(text), path


YAMLISH = st.text(alphabet="ab:-[]{}&*!|>'\"#,? \n\t1\\%@`<", max_size=1024)


@settings(max_examples=400, deadline=None)
@given(YAMLISH)
def test_any_short_document_is_read_or_refused_never_crashes(text: str) -> None:
    try:
        load_yaml(text)
    except YAMLRefused as refused:
        assert refused.message


def test_gateway_validate_refuses_an_alias_bomb_tree(tmp_path: Path) -> None:
    tree = tmp_path / "bomb.yaml"
    tree.write_text(alias_bomb(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "validate", str(tree)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "GATEWAY_DATA_DIR": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 1
    assert f"{tree}:1: YAML anchors (&a0) are not allowed" in done.stdout + done.stderr
