"""What the alert service refuses, as one tree::

    BroadcastError
    ├── BroadcastNotFound     no alert with that id
    ├── InvalidTransition     the state machine does not allow that step now
    ├── SelfApproval          the author tried to approve their own alert
    ├── AlertExpired          approving or sending an alert past its expiry
    └── InvalidAlert          bad input: no text in the fallback language, no topic, ...

Each message is fit to show an operator; none holds a phone number.
"""

from __future__ import annotations

from gateway.errors import GatewayError


class BroadcastError(GatewayError):
    pass


class BroadcastNotFound(BroadcastError):
    pass


class InvalidTransition(BroadcastError):
    pass


class SelfApproval(BroadcastError):
    pass


class AlertExpired(BroadcastError):
    pass


class InvalidAlert(BroadcastError):
    pass
