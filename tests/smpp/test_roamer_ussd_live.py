"""A roamer on USSD over SMPP (node-smpp) is offered the menu by SMS: the SMSC's
``default_country`` is the network's country; a Ugandan number on it reads the offer
in Arabic before home, a Kenyan one does not. The SMS number ``+447700900123`` is in
Ofcom's range for drama (07700 900000-900999), never a subscriber's."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from gateway.menu.effect_port import RecordingEffectHandler
from gateway.menu.pages import Limit
from gateway.menu.validator import load_valid_tree
from gateway.privacy.numbers import PhoneHasher
from gateway.settings import PROJECT_ROOT, Secret
from gateway.smpp.pool import SMPPPool
from gateway.sms import encoding
from gateway.ussd.service import USSDService
from gateway.ussd.sessions import MemorySessionStore
from tests.smpp.smsc_driver import FAST, RecordingSink, Simulator, smsc_settings

NUMBER = "+447700900123"


async def walk(smsc: Simulator, source: str, inputs: list[str]) -> list[str]:
    screens = []
    info = 0x0700
    for index, typed in enumerate(inputs):
        reply = await smsc.command(
            "ussd",
            source=source,
            ton=1,  # international: the digits carry their country code
            dest="3030",
            ussd_op=1 if index == 0 else 18,
            session_info=info,
            hex=encoding.encode_gsm7(typed).hex(),
        )
        info += 2
        body = bytes.fromhex(reply["reply"]["hex"])
        screens.append(encoding.decode(body, reply["reply"]["dc"]))
    return screens


async def test_a_roamer_on_smpp_ussd_reads_the_offer_in_arabic_a_local_caller_does_not(
    smsc: Simulator,
) -> None:
    tree = load_valid_tree(
        PROJECT_ROOT / "menus" / "safe-journey.yaml", PROJECT_ROOT / "content", Limit()
    )
    service_tree = replace(tree, sms_number=NUMBER, page_cache={})
    service = USSDService(
        lambda: service_tree,
        MemorySessionStore(),
        PhoneHasher(Secret("k" * 32)),
        RecordingEffectHandler(),
    )
    settings = smsc_settings(smsc.port, default_country="KE")
    pool = SMPPPool([settings], RecordingSink(), service, tuning=FAST)
    await pool.start()
    try:
        async with asyncio.timeout(10):
            await pool.wait_bound()
        roamer = await walk(smsc, "256700000001", ["*384#", "3", "1"])
        local = await walk(smsc, "254711000111", ["*384#", "3"])
    finally:
        await pool.stop()
    assert roamer[0].startswith("Language")
    assert roamer[1] == f"في الخارج؟ قد لا يعمل الرمز. أرسل قائمة إلى {NUMBER}\n1 متابعة"
    assert roamer[2].startswith("سفر آمن")
    assert local[1].startswith("سفر آمن") and NUMBER not in local[1]
