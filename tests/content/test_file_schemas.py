"""Every other input file is checked against its schema too: content catalogs, the
keyword and topic files, the SMSC list and CSV rows; unknown keys and wrong types are
refused and the message says where."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.console.content_csv import parse_rows
from gateway.content.catalog import ContentError, load_catalogs
from gateway.settings import Settings, SettingsError
from gateway.sms.keywords import CatalogError, load_catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(ROOT / "content", folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, fragment: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if fragment in line)


def test_the_shipped_content_passes_every_schema() -> None:
    assert set(load_catalogs(ROOT / "content")) == {"hotlines", "route-alerts", "warnings"}
    assert load_catalog(ROOT / "content").topics


def test_an_unknown_key_in_a_catalog_entry_names_the_file_line_and_entry(content: Path) -> None:
    hotlines = content / "hotlines.yaml"
    edit(hotlines, '    number: "999"', '    nubmer: "999"')
    with pytest.raises(ContentError) as caught:
        load_catalogs(content)
    line = line_of(hotlines, "nubmer")
    assert str(caught.value) == (
        f"{hotlines}:{line}: entry 'ke-999': unknown key 'nubmer' (did you mean 'number'?)"
    )


def test_a_wrong_type_in_a_catalog_is_refused(content: Path) -> None:
    edit(content / "warnings.yaml", "sample: true", "sample: [yes]")
    with pytest.raises(
        ContentError, match=r"warnings\.yaml:\d+: 'sample': input should be a valid boolean"
    ):
        load_catalogs(content)


def test_an_alias_in_a_catalog_is_refused(content: Path) -> None:
    edit(content / "hotlines.yaml", "kind: hotlines", "kind: &k hotlines")
    with pytest.raises(ContentError, match="anchors"):
        load_catalogs(content)


def test_an_unknown_key_in_topics_or_keywords_says_where(content: Path) -> None:
    topics = content / "topics.yaml"
    edit(topics, "    aliases: [MED, CENTRAL]", "    alias: [MED, CENTRAL]")
    with pytest.raises(CatalogError) as caught:
        load_catalog(content)
    assert str(caught.value) == (
        f"{topics}:{line_of(topics, 'alias:')}: unknown key 'alias' (did you mean 'aliases'?)"
    )
    shutil.copy(ROOT / "content" / "topics.yaml", topics)
    keywords = content / "keywords.yaml"
    edit(keywords, "default_language: en", "default_language: en\nreplys: {}")
    with pytest.raises(CatalogError, match=r"keywords\.yaml:6: unknown key 'replys'"):
        load_catalog(content)


def test_the_smsc_list_is_typed_and_never_echoes_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    smsc = {"name": "a", "host": "h", "port": "two", "system_id": "s", "password": ["hunter2"]}
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GATEWAY_SMSC", json.dumps([{**smsc, "tsp": 5}]))
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    message = str(caught.value)
    assert message.startswith("GATEWAY_SMSC[0]: ")
    assert "'port': input should be a valid integer" in message
    assert "unknown key 'tsp' (did you mean 'tps'?)" in message
    assert "'password' must be text" in message and "hunter2" not in message


def test_a_csv_with_an_unknown_column_is_refused_before_any_row() -> None:
    csv = "id,number,source,last_verified,text_en,contries\nx,1,s,2026-01-01,t,IT\n"
    entries, errors = parse_rows(csv, ["en"])
    assert entries == [] and [str(e) for e in errors] == ["line 1: unknown column(s): contries"]
