"""No false promise: a gateway with no SMS channel does not offer "Send by SMS", nor
tell a roamer to text the service.

Pure. The tree an operator publishes may offer options that send a copy by SMS; a
gateway running without an SMS channel (``GATEWAY_SMS_CHANNEL=none``, or nothing
configured) serves the same tree without those options, so no caller is told that
an SMS is on its way when none can be sent.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.menu.model import Action, Tree


def without_sms_copies(tree: Tree) -> Tree:
    """``tree`` with every option that leads to a send-by-SMS action removed."""
    if tree.sms_number:  # nor tell a roamer to text a number nobody answers
        tree = replace(tree, sms_number="", page_cache={})
    copies = {screen.id for screen in tree.screens.values() if screen.action is Action.SMS_COPY}
    if not copies:
        return tree
    screens = {
        screen_id: replace(screen, options=tuple(o for o in screen.options if o.goto not in copies))
        for screen_id, screen in tree.screens.items()
    }
    return replace(tree, screens=screens, page_cache={})
