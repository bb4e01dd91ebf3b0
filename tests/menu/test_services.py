"""Several services on one gateway: the pure router, and two trees served by their codes."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.menu.loader import TreeError
from gateway.menu.pages import Limit
from gateway.menu.services import ServiceMapError, build_service_map, normalise_code
from gateway.server.app import create_app
from gateway.server.live_tree import (
    ROUTES_REMEMBERED,
    LiveTree,
    ServedTrees,
    load_trees,
    tree_file,
)
from gateway.settings import Settings
from tests.conftest import CONTENT, SAMPLE_TREE
from tests.menu.test_validator import GOOD

SECRET = "test-callback-secret-0123456789"
WORK = GOOD.replace("tree: tiny", "tree: work-rights\nservice_codes: ['*384*2#', '21213']")


def test_served_trees_remember_each_codes_route_and_give_the_routers_answer(
    sample_tree: Any,
) -> None:
    services = build_service_map([("safe", "a.yaml", ()), ("work", "b.yaml", ("*384*2#", "21213"))])
    work = replace(sample_tree, id="work")
    served = ServedTrees(LiveTree(sample_tree), {"work": work}, services)
    codes = ["*384#", "*384*2#", "*384*2*1#", "21 213", "", "*999#"]
    codes += [f"*384*2*{n}#" for n in range(2 * ROUTES_REMEMBERED)]  # past the bound
    for code in codes + codes[:6]:
        expected = work if services.route(code) == "work" else sample_tree
        assert served.for_code(code) is expected
    assert len(served._routes) <= ROUTES_REMEMBERED
    served.services = build_service_map([("safe", "a.yaml", ())])  # a new map: no memory
    assert served.for_code("*384*2#") is sample_tree


def test_codes_route_to_their_tree_and_the_rest_to_the_default() -> None:
    services = build_service_map(
        [
            ("safe", "a.yaml", ()),
            ("work", "b.yaml", ("*384*2#", "21213")),
            ("x", "c.yaml", ("*384*2*7#",)),
        ]
    )
    assert services.route("*384#") == "safe"
    assert services.route("*384*2#") == "work"
    assert services.route("*384*2*1#") == "work"  # a dial string carrying an input
    assert services.route("*384*2*7#") == "x"  # the longest code wins
    assert services.route("*384*22#") == "safe"  # not an extension of *384*2
    assert services.route("+21213") == "work" and services.route("21 213") == "work"
    assert services.route("") == "safe" and services.route("*999#") == "safe"


def test_without_a_default_the_first_tree_answers_unclaimed_codes() -> None:
    services = build_service_map([("a", "a.yaml", ("*1#",)), ("b", "b.yaml", ("*2#",))])
    assert services.route("*3#") == "a" and services.route("*2#") == "b"


@pytest.mark.parametrize(
    ("trees", "says"),
    [
        ([("a", "a.yaml", ()), ("b", "b.yaml", ())], "2 trees declare no service_codes"),
        ([("a", "a.yaml", ("*1#",)), ("b", "b.yaml", ("*1#",))], "already tree 'a'"),
        ([("a", "a.yaml", ()), ("a", "b.yaml", ("*1#",))], "two trees are named 'a'"),
        ([], "no menu tree"),
    ],
)
def test_ambiguous_services_are_refused_with_a_sentence(trees: Any, says: str) -> None:
    with pytest.raises(ServiceMapError, match=says):
        build_service_map(trees)


def test_codes_normalise() -> None:
    assert normalise_code(" *384*2# ") == "*384*2"
    assert normalise_code("+254 (711) 082-000") == "254711082000"
    assert normalise_code("MENU") == "menu"


def menus_with(
    tmp_path: Path,
    *extra: tuple[str, str],
    content: Path = CONTENT,
    env: dict[str, str] | None = None,
) -> Settings:
    """Settings over the sample tree and the ``extra`` menu files (name, text), the
    ``content`` folder, and ``env``: more ``GATEWAY_`` variables."""
    menus = tmp_path / "menus"
    menus.mkdir()
    shutil.copy(SAMPLE_TREE, menus / "safe-journey.yaml")
    for name, text in extra:
        (menus / name).write_text(text, encoding="utf-8")
    return Settings.from_env(
        {
            "GATEWAY_DATA_DIR": str(tmp_path / "var"),
            "GATEWAY_MENUS": str(menus),
            "GATEWAY_CONTENT": str(content),
            "GATEWAY_CALLBACK_SECRET": SECRET,
            "GATEWAY_HASH_KEY": "test-hash-key-0123456789abcdef0123456789",
            **(env or {}),
        }
    )


def test_two_trees_without_codes_are_refused_with_a_sentence_not_a_traceback(
    tmp_path: Path,
) -> None:
    settings = menus_with(tmp_path, ("tiny.yaml", GOOD))
    with pytest.raises(TreeError, match="only one tree may be the default"):
        load_trees(settings, Limit())


async def test_two_services_on_two_codes_over_at_ussd(aiohttp_client: Any, tmp_path: Path) -> None:
    settings = menus_with(tmp_path, ("work.yaml", WORK))
    assert tree_file(settings).name == "safe-journey.yaml"  # the default: no codes
    app = await create_app(settings, broadcast_worker=False)
    client: TestClient[Any, Any] = await aiohttp_client(app)

    async def dial(code: str, session: str, text: str = "") -> str:
        response = await client.post(
            f"/africastalking/ussd?key={SECRET}",
            data={
                "sessionId": session,
                "serviceCode": code,
                "phoneNumber": "+254700888001",
                "networkCode": "63902",
                "text": text,
            },
        )
        return await response.text()

    assert (await dial("*384#", "s1")).startswith("CON Language\n1 English")
    work = await dial("*384*2#", "s2")
    assert work.startswith("CON Language") is False and "Welcome" in work
    assert "Some info" in await dial("*384*2#", "s2", "1")
    status = await (await client.get("/status")).json()
    assert status["tree"] == "safe-journey"
