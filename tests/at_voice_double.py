"""A test double of Africa's Talking Voice: it places a call on the gateway's callback.

Faithful to AT's documented call handling (docs.africastalking.com/voice/callhandler
and the action pages): for each step of a call it POSTs a form (``isActive=1``,
``sessionId``, ``direction``, ``callerNumber``, ``destinationNumber``, and
``dtmfDigits`` after a ``GetDigits``) and executes the XML answer, which must be a
``<Response>`` of documented actions with documented attributes only:

- ``Say`` (``voice`` = man | woman, ``playBeep``), text only;
- ``Play`` (``url``): the double fetches the URL, which must answer 200 with audio;
- ``GetDigits`` (``numDigits``, ``timeout``, ``finishOnKey``, ``callbackUrl``) holding
  only ``Say``/``Play``: the keys the test presses go to ``callbackUrl`` if given, else
  to the number's callback URL;
- ``Dial``, ``Record``, ``Redirect``, ``Reject``, ``Conference``, ``Enqueue``,
  ``Dequeue`` are known but not executed here.

A response without ``GetDigits`` ends the call: AT then sends its final request
(``isActive=0`` with ``durationInSeconds``, ``currencyCode``, ``amount``). Anything
else (a 4xx/5xx, another root, an unknown element or attribute, text in the wrong
place) fails the test, as AT would drop the call.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

_ATTRIBUTES = {
    "Say": {"voice", "playBeep"},
    "Play": {"url"},
    "GetDigits": {"numDigits", "timeout", "finishOnKey", "callbackUrl"},
}
_NOT_EXECUTED = {"Dial", "Record", "Redirect", "Reject", "Conference", "Enqueue", "Dequeue"}
_ids = itertools.count(1)


class CallDropped(AssertionError):
    """The gateway answered something AT would not accept."""


@dataclass
class Heard:
    kind: str  # "say" | "play"
    text: str = ""  # what Say read
    url: str = ""  # what Play played
    content_type: str = ""


@dataclass
class Turn:
    heard: list[Heard]
    waits_for_digits: bool
    num_digits: int | None = None
    finish_on_key: str | None = None
    callback_url: str | None = None

    @property
    def said(self) -> str:
        return " ".join(h.text for h in self.heard if h.kind == "say")

    @property
    def played(self) -> list[str]:
        return [h.url for h in self.heard if h.kind == "play"]


@dataclass
class VoiceCallDouble:
    client: TestClient[Any, Any]
    callback_path: str  # the number's callback URL (path and query) on the gateway
    caller: str
    destination: str = "+254711082000"
    session_id: str = field(default_factory=lambda: f"ATVId_{next(_ids)}")
    ended: bool = False
    final_status: int | None = None
    last: Turn | None = None

    async def dial(self) -> Turn:
        return await self._post(self.callback_path, {})

    async def press(self, keys: str) -> Turn:
        """The caller presses ``keys`` on the keypad. As AT does, collection stops at
        ``finishOnKey`` (not sent) or once ``numDigits`` keys are in; keys that do
        neither leave AT waiting, which a test must not rely on."""
        last = self.last
        assert last is not None and last.waits_for_digits, "nothing waits for keys"
        finish = last.finish_on_key
        if finish and finish in keys:
            digits, _, after = keys.partition(finish)
            assert not after, f"keys after {finish!r} are not collected"
        else:
            digits = keys
            assert last.num_digits is not None and len(keys) == last.num_digits, (
                f"{keys!r} neither fills numDigits={last.num_digits} nor ends with "
                f"finishOnKey={finish!r}: AT would still be waiting"
            )
        if last.num_digits is not None:
            assert len(digits) <= last.num_digits, "more keys than numDigits"
        target = last.callback_url or self.callback_path
        return await self._post(target, {"dtmfDigits": digits})

    async def _post(self, target: str, extra: dict[str, str]) -> Turn:
        assert not self.ended, "the call has ended"
        form = {
            "isActive": "1",
            "sessionId": self.session_id,
            "direction": "Inbound",
            "callerNumber": self.caller,
            "destinationNumber": self.destination,
            **extra,
        }
        response = await self.client.post(_path(target), data=form)
        body = await response.text()
        if response.status != 200:
            raise CallDropped(f"HTTP {response.status}: {body[:200]}")
        turn = await self._execute(body)
        self.last = turn
        if not turn.waits_for_digits:
            await self._end()
        return turn

    async def _end(self) -> None:
        self.ended = True
        response = await self.client.post(
            _path(self.callback_path),
            data={
                "isActive": "0",
                "sessionId": self.session_id,
                "direction": "Inbound",
                "callerNumber": self.caller,
                "destinationNumber": self.destination,
                "durationInSeconds": "42",
                "currencyCode": "KES",
                "amount": "0.5",
            },
        )
        self.final_status = response.status

    async def _execute(self, body: str) -> Turn:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise CallDropped(f"not XML: {exc}") from exc
        if root.tag != "Response":
            raise CallDropped(f"root is <{root.tag}>, not <Response>")
        heard: list[Heard] = []
        for action in root:
            if action.tag == "GetDigits":
                _check(action)
                for prompt in action:
                    if prompt.tag not in ("Say", "Play"):
                        raise CallDropped(f"<{prompt.tag}> inside <GetDigits>")
                    heard.append(await self._prompt(prompt))
                number = action.get("numDigits")
                return Turn(
                    heard,
                    True,
                    int(number) if number is not None else None,
                    action.get("finishOnKey"),
                    action.get("callbackUrl"),
                )
            if action.tag in ("Say", "Play"):
                heard.append(await self._prompt(action))
            elif action.tag not in _NOT_EXECUTED:
                raise CallDropped(f"unknown action <{action.tag}>")
        return Turn(heard, False)

    async def _prompt(self, element: ET.Element) -> Heard:
        _check(element)
        if len(element):
            raise CallDropped(f"<{element.tag}> holds elements")
        if element.tag == "Say":
            if element.get("voice", "woman") not in ("man", "woman"):
                raise CallDropped(f"Say voice {element.get('voice')!r}")
            return Heard("say", text=(element.text or "").strip())
        url = element.get("url", "")
        if urlsplit(url).scheme not in ("http", "https"):
            raise CallDropped(f"Play url {url!r} is not absolute")
        audio = await self.client.get(_path(url))
        if audio.status != 200 or not audio.content_type.startswith("audio/"):
            raise CallDropped(f"Play url {url!r} gave {audio.status} {audio.content_type}")
        await audio.read()
        return Heard("play", url=url, content_type=audio.content_type)


def _check(element: ET.Element) -> None:
    unknown = set(element.attrib) - _ATTRIBUTES[element.tag]
    if unknown:
        raise CallDropped(f"<{element.tag}> has undocumented attribute(s) {sorted(unknown)}")


def _path(url: str) -> str:
    """The path and query of ``url``: the test client adds its own host."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.scheme else url
