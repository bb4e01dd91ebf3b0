"""``POST /africastalking/voice`` (AT Voice callbacks) and the recordings it plays.

The menu by voice, for people who cannot read a screen: the same tree, the same
engine and session store as USSD (channel ``voice``), one screen per callback, spoken
with AT's ``Say`` where it has a voice for the caller's language, else played from an
operator's recording once an approver published it (:mod:`gateway.content.recordings`;
see :mod:`gateway.africastalking.voice_dialect`). The callback
needs the shared secret as every AT callback does; whatever else comes in, AT gets
HTTP 200 with XML, a polite spoken "service busy" at worst.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from gateway.africastalking.callback_auth import forbidden, is_authentic
from gateway.africastalking.voice_dialect import (
    KeyMeaning,
    VoiceCall,
    VoiceFormError,
    VoiceOptions,
    VoiceScreen,
    hang_up,
    key_meaning,
    parse_voice_form,
    render,
)
from gateway.content.recordings import RecordingLibrary, recording_path
from gateway.menu.model import ScreenKind, Tree
from gateway.menu.pages import footers
from gateway.settings import Secret
from gateway.ussd.dropoff import SessionEndRecorder
from gateway.ussd.service import USSDService
from gateway.ussd.types import USSDReply, USSDRequest

log = structlog.get_logger("gateway.voice")

CHANNEL = "voice"


@dataclass(frozen=True)
class VoiceSetup:
    options: VoiceOptions
    say_languages: frozenset[str]
    recordings: RecordingLibrary  # only published recordings are played
    public_url: str = ""  # "" = the origin AT called


def _xml(body: str) -> web.Response:
    return web.Response(text=body, content_type="application/xml", charset="utf-8")


def voice_text(tree: Tree, reply: USSDReply, language: str, *, with_keys: bool) -> str:
    """The screen as it is heard: without the USSD footer (``0 Back, 00 Home``: voice has
    its own keys, said after the screen), whole (a voice screen is never paged)."""
    lines = reply.text.splitlines()
    screen = tree.screens.get(reply.screen_id)
    if screen is not None and lines and lines[-1] in footers(tree, screen, language):
        lines = lines[:-1]
    if with_keys:
        lines.append(tree.nav("voice_keys", language))
    return "\n".join(lines)


def voice_routes(
    service: USSDService,
    secret: Secret,
    tree_for: Callable[[str], Tree],
    setup: VoiceSetup,
    dropoff: SessionEndRecorder,
    today: Callable[[], dt.date] = dt.date.today,
) -> list[web.RouteDef]:
    async def voice(request: web.Request) -> web.Response:
        if not is_authentic(request, secret):
            return forbidden()
        try:
            form = await request.post()
            call = parse_voice_form({k: str(v) for k, v in form.items()})
        except (VoiceFormError, ValueError, UnicodeDecodeError) as exc:
            log.warning("voice.bad_form", error=type(exc).__name__)
            return _xml(_busy(tree_for(""), setup))
        current = tree_for(call.destination)  # the number called picks the service
        try:
            if not call.active:
                await _call_ended(call)
                return _xml(hang_up())
            return _xml(await _answer(current, call, _base(request)))
        except Exception as exc:  # a store outage or a bug: the caller still hears a sentence
            log.error("voice.unexpected_error", error=type(exc).__name__)
            return _xml(_busy(current, setup))

    async def _answer(current: Tree, call: VoiceCall, base: str) -> str:
        record = await service.session_record(call.session_id, CHANNEL, call.caller)
        key = key_meaning(call.digits, setup.options, started=record is not None)
        reply: USSDReply | None = None
        if key.meaning is KeyMeaning.REPEAT and record is not None:
            reply = record.reply
        if reply is None:
            reply = await service.handle(
                USSDRequest(
                    channel=CHANNEL,
                    session_id=call.session_id,
                    msisdn=call.caller,
                    service_code=call.destination,
                    user_input=key.input if key.meaning is KeyMeaning.INPUT else None,
                )
            )
        record = await service.session_record(call.session_id, CHANNEL, call.caller)
        language = record.state.language if record is not None else current.fallback_language
        screen = current.screens.get(reply.screen_id)
        free_input = screen is not None and screen.kind is ScreenKind.INPUT
        recording = ""
        if language not in setup.say_languages:
            found = await setup.recordings.published(current.id, reply.screen_id, language)
            if found is not None:
                recording = base + recording_path(current.id, reply.screen_id, language)
            else:
                log.warning("voice.recording_missing", screen=reply.screen_id, language=language)
        text = voice_text(current, reply, language, with_keys=not reply.end)
        log.info("voice.screen", screen=reply.screen_id, played=bool(recording), end=reply.end)
        return render(VoiceScreen(text, reply.end, recording, free_input), setup.options)

    async def _call_ended(call: VoiceCall) -> None:
        try:
            screen = await service.session_screen(call.session_id, CHANNEL, call.caller)
            await dropoff.record_end(
                today(), screen or "__unknown__", "voice_ended", call.destination
            )
        except Exception as exc:  # a store being down must not fail AT's request
            log.warning("voice.end_unrecorded", error=type(exc).__name__)

    def _base(request: web.Request) -> str:
        return setup.public_url or f"{request.scheme}://{request.host}"

    async def recording(request: web.Request) -> web.StreamResponse:
        found = await setup.recordings.published(
            request.match_info["tree"], request.match_info["screen"], request.match_info["lang"]
        )
        if found is None:
            raise web.HTTPNotFound(text="no such recording")
        return web.FileResponse(found.path, headers={"Content-Type": found.content_type})

    return [
        web.post("/africastalking/voice", voice),
        web.get("/voice/recordings/{tree}/{screen}/{lang}", recording),
    ]


def _busy(tree: Tree, setup: VoiceSetup) -> str:
    text = tree.nav("unavailable", tree.fallback_language)
    return render(VoiceScreen(text, True), setup.options)
