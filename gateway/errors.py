"""The root of every error the gateway raises on purpose.

``except GatewayError`` catches all of them; each family keeps the built-in base it
had (``ValueError`` for bad input, ``KeyError`` for an unknown name) so callers that
catch those still do. Control-flow signals inside one module (a session commit
conflict) are not errors and do not belong here.

::

    GatewayError
    ├── SettingsError (ValueError)           settings: a bad GATEWAY_* value, by name
    ├── TreeError (ValueError)               menu.loader: a tree file, file:line
    ├── PaginationError (ValueError)         menu.pages
    ├── YAMLRefused (ValueError)             content.safe_yaml: an anchor, alias, bad YAML
    ├── ContentError (ValueError)            content.catalog: a catalog file or version, file:line
    ├── CatalogError (ValueError)            sms.keywords: keywords/topics files
    ├── EncodingError (ValueError)           sms.encoding
    ├── SegmentationError (ValueError)       sms.segmentation
    ├── ATFormError (ValueError)             africastalking.ussd_dialect: a callback form
    ├── SessionStoreError                    ussd.sessions: the session store is down
    ├── StoreError                           store.port
    │   └── StoreConflict
    ├── DecryptionError (ValueError)         privacy.numbers
    ├── RotationError                        privacy.key_rotation
    ├── SMPPError                            smpp.errors
    │   ├── SMPPProtocolError                the peer broke SMPP
    │   ├── LocalProtocolError               we would have broken SMPP
    │   └── LinkError                        the link is down
    ├── UnknownProfileError (KeyError)       smpp.ussd_profiles
    ├── TPSBudgetError                       pacing.shared_grant
    │   ├── TPSBudgetUnavailable
    │   └── ReservationTooLarge (ValueError)
    ├── ChannelUnavailable (RuntimeError)    server.sms_channel
    ├── BroadcastError                       broadcast.errors
    │   ├── BroadcastNotFound, InvalidTransition, SelfApproval
    │   └── AlertExpired, InvalidAlert
    ├── DraftError (ValueError)              console.menu_draft
    ├── ContentEditError (ValueError)        console.content_csv
    ├── PasswordPolicyError (ValueError)     console.passwords
    ├── CommandError                         cli.user_commands
    └── ScriptError (ValueError)             cli.simulate
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""
