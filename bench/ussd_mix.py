"""A realistic USSD load for the benchmarks: sessions as callers walk the sample tree.

    python bench/ussd_mix.py OUT_DIR [--scripts 16] [--requests 6000]   # writes, prints the mix

Each script is the order in which one wrk connection sends its requests. It is made
by walking callers through the real USSD service (the sample tree, an in-process
session store), choosing each input from the screen the service answered, so every
request is one a handset could send at that point:

- all four languages (each caller has one: en 35 %, fr 25 %, ar 25 %, so 15 %) and
  seven networks (the caller's country orders the hotlines);
- a pool of callers per script, each dialling several times: a caller's first session
  opens on the language menu, later ones at home in the remembered language;
- many paths: every menu option that does not lead to an action screen, pages
  (``98``), back (``0``), home (``00``), country names typed on the input screen;
- one input in ten is invalid (a key no screen offers, or an unknown country);
- a session ends by quick exit (``99``, 30 %) or by the caller hanging up after 1-8
  inputs; a caller who hung up beyond the first screens is offered "continue where you
  left off" on the next call and answers it (continue 70 %, start again 30 %).

Action screens (subscribe, SMS copy) are left out: they measure the store and the SMS
channel, not the USSD hop. A line is ``<session> <caller> <form tail>``; wrk's script
(bench/ussd.lua) adds the session id and the phone number, unique per run, connection
and lap, so a script can be replayed as often as a run needs with fresh callers.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.africastalking.ussd_dialect import parse_ussd_form  # noqa: E402
from gateway.content.catalog import load_catalogs  # noqa: E402
from gateway.menu.effect_port import RecordingEffectHandler  # noqa: E402
from gateway.menu.engine import RESUME_SCREEN  # noqa: E402
from gateway.menu.loader import load_tree_file  # noqa: E402
from gateway.menu.model import MORE, QUICK_EXIT, ScreenKind, Tree  # noqa: E402
from gateway.observability.logs import configure  # noqa: E402
from gateway.privacy.numbers import PhoneHasher  # noqa: E402
from gateway.settings import Secret  # noqa: E402
from gateway.ussd.service import USSDService  # noqa: E402
from gateway.ussd.sessions import MemorySessionStore  # noqa: E402
from gateway.ussd.types import USSDReply  # noqa: E402

LANGUAGES = (("en", 35), ("fr", 25), ("ar", 25), ("so", 15))
NETWORKS = ("63902", "60201", "63701", "62130", "60600", "22201", "20801")
COUNTRIES = ("Italy", "IT", "Kenya", "LY", "Somalia", "france", "EG")
INVALID_KEYS = ("7", "9", "55", "a", "#")
INVALID_COUNTRIES = ("Narnia", "zz", "12")
CALLERS_PER_SCRIPT = 150  # each dials ~ requests / (5 * callers) times a script
SERVICE_CODE = "*384#"


def phone(script: int, caller: int) -> str:
    """Only for the in-process walk: wrk sends numbers of its own (bench/ussd.lua)."""
    return f"+25470{script:03d}{caller:04d}"


@dataclass
class Caller:
    number: int
    language_key: str
    network: str
    sessions: int = 0


@dataclass
class Mix:
    requests: int = 0
    inputs: int = 0
    invalid: int = 0
    sessions: int = 0
    first_calls: int = 0
    resumes_offered: int = 0
    quick_exits: int = 0
    languages: Counter[str] = field(default_factory=Counter)
    screens: Counter[str] = field(default_factory=Counter)


def _options(tree: Tree, screen_id: str) -> list[str]:
    """Keys that lead somewhere the walk may go (no action screens)."""
    screen = tree.screens[screen_id]
    return [
        option.key
        for option in screen.options
        if tree.screens[option.goto].kind is not ScreenKind.ACTION
    ]


def _next_input(
    tree: Tree, reply: USSDReply, caller: Caller, language: str, rng: random.Random, mix: Mix
) -> str:
    screen_id = reply.screen_id
    if screen_id == RESUME_SCREEN:
        return "1" if rng.random() < 0.7 else "2"
    if rng.random() < 0.1:
        mix.invalid += 1
        if tree.screens.get(screen_id) and tree.screens[screen_id].kind is ScreenKind.INPUT:
            return rng.choice(INVALID_COUNTRIES)
        return rng.choice(INVALID_KEYS)
    screen = tree.screens[screen_id]
    if screen.kind is ScreenKind.LANGUAGE:
        return caller.language_key
    if screen.kind is ScreenKind.INPUT:
        return rng.choice(COUNTRIES)
    choices: list[tuple[str, int]] = [(key, 6) for key in _options(tree, screen_id)]
    if MORE in reply.text.split() and tree.nav("more", language) in reply.text:
        choices.append((MORE, 6))
    if screen_id != tree.home:
        choices += [("0", 2), ("00", 1)]
    if not choices:
        return "0"
    keys, weights = zip(*choices, strict=True)
    return rng.choices(keys, weights)[0]


async def walk(tree: Tree, script: int, requests: int, mix: Mix) -> list[str]:
    rng = random.Random(script)
    service = USSDService(
        lambda: tree,
        MemorySessionStore(),
        PhoneHasher(Secret("bench-mix-hash-key-0123456789abcdef")),
        RecordingEffectHandler(),
    )
    language_keys = {
        lang: str(i) for i, lang in enumerate(tree.languages, 1)
    }  # the language screen lists the tree's languages in order
    names, weights = zip(*LANGUAGES, strict=True)
    callers = [
        Caller(
            number,
            language_keys[rng.choices(names, weights)[0]],
            rng.choice(NETWORKS),
        )
        for number in range(CALLERS_PER_SCRIPT)
    ]
    key_language = {key: lang for lang, key in language_keys.items()}
    lines: list[str] = []
    session = 0
    while len(lines) < requests:
        caller = rng.choice(callers)
        language = key_language[caller.language_key]
        mix.sessions += 1
        mix.first_calls += caller.sessions == 0
        caller.sessions += 1
        inputs: list[str] = []
        quick_exit = rng.random() < 0.3
        budget = rng.randint(1, 8)
        while True:
            text = "*".join(inputs)
            form = {
                "sessionId": f"mix-{script}-{session}",
                "serviceCode": SERVICE_CODE,
                "phoneNumber": phone(script, caller.number),
                "networkCode": caller.network,
                "text": text,
            }
            reply = await service.handle(parse_ussd_form(form))
            lines.append(
                f"{session} {caller.number} &serviceCode={quote(SERVICE_CODE, safe='')}"
                f"&networkCode={caller.network}&text={quote(text, safe='')}"
            )
            mix.requests += 1
            mix.screens[reply.screen_id] += 1
            mix.resumes_offered += reply.screen_id == RESUME_SCREEN
            if reply.end or len(lines) >= requests:
                break
            if len(inputs) >= budget:
                if quick_exit:
                    inputs.append(QUICK_EXIT)
                    mix.quick_exits += 1
                    mix.inputs += 1
                    continue
                break  # hangs up
            inputs.append(_next_input(tree, reply, caller, language, rng, mix))
            mix.inputs += 1
        mix.languages[language] += 1
        session += 1
    return lines


def write_scripts(out: Path, scripts: int, requests: int) -> Mix:
    configure("json", "warning")  # the walk's own request lines are not wanted
    tree = load_tree_file(ROOT / "menus" / "safe-journey.yaml", load_catalogs(ROOT / "content"))
    out.mkdir(parents=True, exist_ok=True)
    mix = Mix()
    for number in range(scripts):
        lines = asyncio.run(walk(tree, number, requests, mix))
        (out / f"mix-{number}.txt").write_text(f"{CALLERS_PER_SCRIPT}\n" + "\n".join(lines) + "\n")
    return mix


def describe(mix: Mix) -> str:
    share = lambda part, whole: f"{100 * part / max(whole, 1):.0f} %"  # noqa: E731
    languages = ", ".join(
        f"{lang} {share(n, mix.sessions)}" for lang, n in sorted(mix.languages.items())
    )
    return (
        f"mix: {mix.requests:,} requests in {mix.sessions:,} sessions "
        f"({mix.requests / max(mix.sessions, 1):.1f} a session); "
        f"first calls {share(mix.first_calls, mix.sessions)}, "
        f"resume offered {share(mix.resumes_offered, mix.sessions)} of sessions, "
        f"quick exits {share(mix.quick_exits, mix.sessions)}; "
        f"invalid inputs {share(mix.invalid, mix.inputs)} of {mix.inputs:,}; "
        f"{len(mix.screens)} distinct screens; languages {languages}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--scripts", type=int, default=16)
    parser.add_argument("--requests", type=int, default=6000)
    args = parser.parse_args()
    print(describe(write_scripts(args.out, args.scripts, args.requests)))


if __name__ == "__main__":
    main()
