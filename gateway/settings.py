"""Settings: read once from ``GATEWAY_*`` environment variables into frozen dataclasses.

A missing or bad value stops the boot with a :class:`SettingsError` naming the
variable. Secrets are wrapped in :class:`Secret`, whose ``repr`` and ``str`` never show
the value.

Embedded defaults: with nothing set, the gateway keeps its state under
``GATEWAY_DATA_DIR`` (``./var``): an SQLite file, and generated keys in
``keys.json`` (mode 0600) for the callback secret, the phone-number hash key, the
subscriber-number encryption key, the audit chain's key and the console's key.
Production sets them explicitly.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pycountry
from pydantic import ValidationError

from gateway.content.file_schema import FileSchema, schema_faults
from gateway.content.safe_yaml import YAMLDocument
from gateway.errors import GatewayError

PREFIX = "GATEWAY_"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(GatewayError, ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Secret:
    """A string that never shows itself in a repr, a str or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def reveal_bytes(self) -> bytes:
        return self._value.encode()

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(
            self._value.encode(), other._value.encode()
        )

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class SMSCSettings:
    """One SMSC the gateway binds to (from ``GATEWAY_SMSC``, a JSON list)."""

    name: str
    host: str
    port: int
    system_id: str
    password: Secret
    system_type: str = ""
    bind_mode: str = "transceiver"  # transceiver | transmitter | receiver
    binds: int = 1
    window: int = 10
    tps: float = 50.0
    tls: bool = False
    ussd_profile: str = "3gpp"
    service_code: str = ""
    source_addr: str = ""
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    split_mode: str = "udh"  # udh | sar | payload
    request_dlr: bool = True
    # Give each alert's expiry as the submit's validity_period (the network drops what
    # it could not deliver by then); off for an SMSC that refuses the field.
    send_validity: bool = True
    # The operator's grant for the whole account, shared through Redis by every bind of
    # every worker (needs GATEWAY_REDIS_URL); 0 = no shared budget, only ``tps`` per bind.
    shared_tps: float = 0.0
    # How receipts write this SMSC's message ids (Kannel's msg-id-type, Jasmin's
    # dlr_msgid): as-is | hex-to-dec | dec-to-hex | auto (learned, never guessed).
    receipt_id: str = "auto"
    # A message whose receipt has not come this many seconds after submission ends
    # "unknown" (neither delivered nor expired: we cannot tell).
    receipt_timeout: float = 172_800.0
    # Destination prefixes this SMSC serves (E.164, e.g. "+254"); empty = any. Several
    # SMSCs on one prefix fail over in the order of GATEWAY_SMSC.
    routes: tuple[str, ...] = ()
    # ISO 3166 alpha-2 that resolves a national number (``0711...``) from this SMSC.
    default_country: str = ""


@dataclass(frozen=True)
class RouteSettings:
    """One route of ``GATEWAY_ROUTES``: destinations (number prefixes and/or ISO
    countries; neither = any destination) and their targets in failover order (SMSC
    names from ``GATEWAY_SMSC``, or ``africastalking``)."""

    name: str
    targets: tuple[str, ...]
    prefixes: tuple[str, ...] = ()  # digits, no "+"
    countries: tuple[str, ...] = ()  # ISO 3166 alpha-2, upper case
    tps: float = 0.0  # the route's own rate on top of each SMSC's grant; 0 = none
    failover_on: tuple[str, ...] | None = None  # None = GATEWAY_ROUTE_FAILOVER_ON


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = PROJECT_ROOT / "var"
    menus: Path = PROJECT_ROOT / "menus"
    content: Path = PROJECT_ROOT / "content"
    redis_url: str | None = None
    db: str = ""  # sqlite file path, or a postgresql:// URL; "" = data_dir/gateway.db
    callback_secret: Secret = field(default_factory=lambda: Secret(""))
    hash_key: Secret = field(default_factory=lambda: Secret(""))
    encryption_key: Secret = field(default_factory=lambda: Secret(""))
    session_ttl: int = 180
    resume_window: int = 120
    screen_limit: int = 182
    default_language: str = "en"
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    at_username: str = "sandbox"
    at_api_key: Secret = field(default_factory=lambda: Secret(""))
    at_sms_url: str = "https://api.sandbox.africastalking.com/version1/messaging"
    at_sender_id: str = ""
    sms_channel: str = "auto"  # auto | smpp | africastalking | log | none
    sms_prefix: str = "Info:"
    smsc: tuple[SMSCSettings, ...] = ()
    routes: tuple[RouteSettings, ...] = ()  # GATEWAY_ROUTES; () = the SMSCs' own ``routes``
    # Error classes that send a message to its route's next target (GATEWAY_ROUTE_
    # FAILOVER_ON, comma-separated); None = gateway.smpp.routes.DEFAULT_FAILOVER_ON.
    route_failover_on: tuple[str, ...] | None = None
    console_secure_cookies: bool = False
    console_idle_timeout: int = 1800
    console_absolute_timeout: int = 43200
    stale_after_days: int = 90
    retention_delivery_days: int = 30
    retention_optout_days: int = 7
    broadcast_tps: float = 50.0
    sms_menu_parts: int = 1  # SMS a menu screen may take (1-3)
    sms_menu_ttl: int = 1800  # seconds an SMS menu session lives
    sms_menu_per_minute: int = 5  # menu SMS one number may get in a minute
    worker_port: int = 8082  # `gateway broadcast run`: /metrics, /healthz, /readyz; 0 = off
    # Proxies whose X-Forwarded-For is believed (the console's sign-in throttle keys on
    # the client's address); empty: the connection's own address is the client's.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    audit_key: Secret = field(default_factory=lambda: Secret(""))
    console_key: Secret = field(default_factory=lambda: Secret(""))
    audit_anchor: Path | None = None  # "" = data_dir/audit-anchor.jsonl

    voice_say_languages: tuple[str, ...] = ("en",)  # languages AT's Say reads; others Play
    voice_say_voice: str = "woman"  # AT's Say voice: woman | man
    voice_timeout: int = 10  # seconds GetDigits waits for a key
    voice_repeat_key: str = "*"
    voice_exit_key: str = "99"
    voice_callback_url: Secret = field(default_factory=lambda: Secret(""))  # may hold ?key=
    voice_recordings: Path | None = None  # None = data_dir/recordings
    voice_max_seconds: int = 60  # the validator warns about screens spoken longer
    public_url: str = ""  # how AT reaches this gateway, for recording URLs

    @property
    def recordings_dir(self) -> Path:
        """Where uploaded voice recordings' audio lives (gateway.content.recordings)."""
        return self.voice_recordings or self.data_dir / "recordings"

    @property
    def audit_anchor_path(self) -> Path:
        return self.audit_anchor or self.data_dir / "audit-anchor.jsonl"

    @property
    def db_url(self) -> str:
        return self.db or str(self.data_dir / "gateway.db")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        reader = _Reader(env)
        data_dir = reader.path("DATA_DIR", cls.data_dir)
        values: dict[str, Any] = {
            "host": reader.text("HOST", cls.host),
            "port": reader.integer("PORT", cls.port, low=1, high=65535),
            "data_dir": data_dir,
            "menus": reader.path("MENUS", cls.menus),
            "content": reader.path("CONTENT", cls.content),
            "redis_url": reader.optional_url("REDIS_URL", ("redis://", "rediss://", "unix://")),
            "db": reader.text("DB", ""),
            "session_ttl": reader.integer("SESSION_TTL", cls.session_ttl, low=10, high=3600),
            "resume_window": reader.integer("RESUME_WINDOW", cls.resume_window, low=0, high=3600),
            "screen_limit": reader.integer("SCREEN_LIMIT", cls.screen_limit, low=120, high=182),
            "default_language": reader.text("DEFAULT_LANGUAGE", cls.default_language),
            "log_format": reader.choice("LOG_FORMAT", cls.log_format, ("auto", "json", "console")),
            "log_level": reader.choice(
                "LOG_LEVEL", cls.log_level, ("debug", "info", "warning", "error")
            ),
            "at_username": reader.text("AT_USERNAME", cls.at_username),
            "at_api_key": Secret(reader.text("AT_API_KEY", "")),
            "at_sms_url": reader.text("AT_SMS_URL", cls.at_sms_url),
            "at_sender_id": reader.text("AT_SENDER_ID", ""),
            "sms_channel": reader.choice(
                "SMS_CHANNEL", cls.sms_channel, ("auto", "smpp", "africastalking", "log", "none")
            ),
            "sms_prefix": reader.text("SMS_PREFIX", cls.sms_prefix),
            "smsc": reader.smsc_list("SMSC"),
            "route_failover_on": reader.name_list("ROUTE_FAILOVER_ON"),
            "console_secure_cookies": reader.boolean("CONSOLE_SECURE_COOKIES", False),
            "console_idle_timeout": reader.integer("CONSOLE_IDLE_TIMEOUT", 1800, low=60),
            "console_absolute_timeout": reader.integer("CONSOLE_ABSOLUTE_TIMEOUT", 43200, low=60),
            "stale_after_days": reader.integer("STALE_AFTER_DAYS", 90, low=1),
            "retention_delivery_days": reader.integer("RETENTION_DELIVERY_DAYS", 30, low=1),
            "retention_optout_days": reader.integer("RETENTION_OPTOUT_DAYS", 7, low=0),
            "broadcast_tps": reader.number("BROADCAST_TPS", 50.0, low=0.1),
            "sms_menu_parts": reader.integer("SMS_MENU_PARTS", 1, low=1, high=3),
            "sms_menu_ttl": reader.integer("SMS_MENU_TTL", 1800, low=60, high=86400),
            "sms_menu_per_minute": reader.integer("SMS_MENU_PER_MINUTE", 5, low=1, high=60),
            "worker_port": reader.integer("WORKER_PORT", cls.worker_port, low=0, high=65535),
            "trusted_proxies": reader.networks("TRUSTED_PROXIES"),
            "audit_anchor": reader.path("AUDIT_ANCHOR", data_dir / "audit-anchor.jsonl"),
            "voice_say_languages": tuple(
                code.strip()
                for code in reader.text("VOICE_SAY_LANGUAGES", "en").split(",")
                if code.strip()
            ),
            "voice_say_voice": reader.choice("VOICE_SAY_VOICE", "woman", ("woman", "man")),
            "voice_timeout": reader.integer("VOICE_TIMEOUT", 10, low=3, high=60),
            # "#" ends a choice of one key (GetDigits finishOnKey): it cannot be either.
            "voice_repeat_key": reader.choice("VOICE_REPEAT_KEY", "*", ("*", "9")),
            "voice_exit_key": reader.choice("VOICE_EXIT_KEY", "99", ("99", "*", "9")),
            "voice_callback_url": Secret(reader.text("VOICE_CALLBACK_URL", "")),
            "voice_recordings": reader.path("VOICE_RECORDINGS", data_dir / "recordings"),
            "voice_max_seconds": reader.integer("VOICE_MAX_SECONDS", 60, low=5, high=600),
            "public_url": reader.text("PUBLIC_URL", "").rstrip("/"),
        }
        values["routes"] = reader.route_list("ROUTES", values["smsc"])
        if not values["at_api_key"].reveal() and any(
            AT_TARGET in route.targets for route in values["routes"]
        ):
            raise SettingsError(
                "GATEWAY_ROUTES names africastalking but GATEWAY_AT_API_KEY is empty"
            )
        if values["voice_repeat_key"] == values["voice_exit_key"]:
            raise SettingsError("GATEWAY_VOICE_REPEAT_KEY and GATEWAY_VOICE_EXIT_KEY must differ")
        keys = _KeySource(env, data_dir)
        values["callback_secret"] = keys.secret("CALLBACK_SECRET", min_length=16)
        values["hash_key"] = keys.secret("HASH_KEY", min_length=32)
        values["encryption_key"] = keys.fernet_key("ENCRYPTION_KEY")
        values["audit_key"] = keys.secret("AUDIT_KEY", min_length=32)
        values["console_key"] = keys.secret("CONSOLE_KEY", min_length=32)
        return cls(**values)


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def raw(self, name: str) -> str | None:
        value = self.env.get(PREFIX + name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def path(self, name: str, default: Path) -> Path:
        value = self.raw(name)
        return default if value is None else Path(value).expanduser()

    def integer(
        self, name: str, default: int, low: int | None = None, high: int | None = None
    ) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} must be a whole number, got {value!r}") from None
        _check_range(name, number, low, high)
        return number

    def number(self, name: str, default: float, low: float | None = None) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} must be a number, got {value!r}") from None
        _check_range(name, number, low, None)
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{PREFIX}{name} must be true or false, got {value!r}")

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in allowed:
            raise SettingsError(
                f"{PREFIX}{name} must be one of {', '.join(allowed)}, got {value!r}"
            )
        return value.lower()

    def optional_url(self, name: str, schemes: tuple[str, ...]) -> str | None:
        value = self.raw(name)
        if value is not None and not value.startswith(schemes):
            raise SettingsError(f"{PREFIX}{name} must start with one of {', '.join(schemes)}")
        return value

    def networks(self, name: str) -> tuple[IPNetwork, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        found = []
        for item in value.replace(",", " ").split():
            try:
                found.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise SettingsError(
                    f"{PREFIX}{name} must list IP addresses or networks (CIDR), got {item!r}"
                ) from None
        return tuple(found)

    def smsc_list(self, name: str) -> tuple[SMSCSettings, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        if value.startswith("@"):
            try:
                value = Path(value[1:]).read_text(encoding="utf-8")
            except OSError as exc:
                raise SettingsError(f"{PREFIX}{name}: cannot read {value[1:]}: {exc}") from exc
        try:
            items = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{PREFIX}{name} must be a JSON list of SMSCs: {exc}") from exc
        if not isinstance(items, list):
            raise SettingsError(f"{PREFIX}{name} must be a JSON list of SMSCs")
        return tuple(_smsc_from_json(name, index, item) for index, item in enumerate(items))

    def name_list(self, name: str) -> tuple[str, ...] | None:
        value = self.raw(name)
        if value is None or not value.strip():
            return None
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def route_list(self, name: str, smscs: tuple[SMSCSettings, ...]) -> tuple[RouteSettings, ...]:
        value = self.raw(name)
        if value is None or not value.strip():
            return ()
        if value.startswith("@"):
            try:
                value = Path(value[1:]).read_text(encoding="utf-8")
            except OSError as exc:
                raise SettingsError(f"{PREFIX}{name}: cannot read {value[1:]}: {exc}") from exc
        try:
            items = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{PREFIX}{name} must be a JSON list of routes: {exc}") from exc
        if not isinstance(items, list):
            raise SettingsError(f"{PREFIX}{name} must be a JSON list of routes")
        legacy = [smsc.name for smsc in smscs if smsc.routes]
        if items and legacy:
            raise SettingsError(
                f"{PREFIX}{name} is set and GATEWAY_SMSC entry {legacy[0]!r} lists 'routes' "
                "too: write every route in one place (move its prefixes to GATEWAY_ROUTES)"
            )
        known = {smsc.name for smsc in smscs if smsc.bind_mode != "receiver"}
        routes = tuple(
            _route_from_json(name, index, item, known) for index, item in enumerate(items)
        )
        names = [route.name for route in routes]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise SettingsError(f"{PREFIX}{name}: route name {twice[0]!r} is used twice")
        return routes


def _check_range(name: str, number: float, low: float | None, high: float | None) -> None:
    if low is not None and number < low:
        raise SettingsError(f"{PREFIX}{name} must be at least {low}, got {number}")
    if high is not None and number > high:
        raise SettingsError(f"{PREFIX}{name} must be at most {high}, got {number}")


class _SMSCSchema(FileSchema):
    """One item of ``GATEWAY_SMSC``: every key and its type (unknown keys refused)."""

    name: str
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    bind_mode: str = "transceiver"
    binds: int = 1
    window: int = 10
    tps: float = 50.0
    tls: bool = False
    ussd_profile: str = "3gpp"
    service_code: str = ""
    source_addr: str = ""
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    split_mode: str = "udh"
    request_dlr: bool = True
    send_validity: bool = True
    shared_tps: float = 0.0
    receipt_id: str = "auto"
    receipt_timeout: float = 172_800.0
    routes: tuple[str, ...] = ()
    default_country: str = ""


# The name scopes the SMSC's message ids in the store (``<name>/<id>``).
_SCOPE_NAME = re.compile(r"[A-Za-z0-9._-]{1,40}")


def _smsc_from_json(name: str, index: int, item: object) -> SMSCSettings:
    where = f"{PREFIX}{name}[{index}]"
    if not isinstance(item, dict):
        raise SettingsError(f"{where} must be an object")
    try:
        checked = _SMSCSchema.model_validate(item)
    except ValidationError as exc:
        faults = schema_faults(exc, YAMLDocument(where, item), _SMSCSchema)
        # pydantic's own message may quote the input: never echo a password.
        messages = [
            "'password' must be text" if fault.path[:1] == ("password",) else fault.message
            for fault in faults
        ]
        raise SettingsError(f"{where}: {'; '.join(messages)}") from None
    values: dict[str, Any] = checked.model_dump()
    values["password"] = Secret(checked.password)
    values["routes"] = tuple(values.get("routes", ()))
    values["default_country"] = checked.default_country.strip().upper()
    smsc = SMSCSettings(**values)
    if smsc.bind_mode not in ("transceiver", "transmitter", "receiver"):
        raise SettingsError(f"{where}.bind_mode must be transceiver, transmitter or receiver")
    if smsc.split_mode not in ("udh", "sar", "payload"):
        raise SettingsError(f"{where}.split_mode must be udh, sar or payload")
    if not (1 <= smsc.window <= 1000) or smsc.tps <= 0 or smsc.binds < 1:
        raise SettingsError(f"{where}: window must be 1..1000, tps > 0, binds >= 1")
    if smsc.shared_tps < 0:
        raise SettingsError(f"{where}.shared_tps must be 0 (off) or a positive grant")
    if smsc.receipt_id not in ("auto", "as-is", "hex-to-dec", "dec-to-hex"):
        raise SettingsError(f"{where}.receipt_id must be auto, as-is, hex-to-dec or dec-to-hex")
    if smsc.receipt_timeout <= 0:
        raise SettingsError(f"{where}.receipt_timeout must be a positive number of seconds")
    bad_routes = [r for r in smsc.routes if not re.fullmatch(r"\+?[0-9]{1,15}", r)]
    if bad_routes:
        raise SettingsError(f"{where}.routes: {bad_routes[0]!r} is not a number prefix like +254")
    if not _SCOPE_NAME.fullmatch(smsc.name):
        raise SettingsError(f"{where}.name must be 1-40 letters, digits, '.', '_' or '-'")
    country = smsc.default_country
    if country and (len(country) != 2 or pycountry.countries.get(alpha_2=country) is None):
        raise SettingsError(f"{where}.default_country must be an ISO 3166 alpha-2 code, e.g. KE")
    return smsc


class _RouteSchema(FileSchema):
    """One item of ``GATEWAY_ROUTES`` (unknown keys refused)."""

    name: str
    targets: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    tps: float = 0.0
    failover_on: tuple[str, ...] | None = None


AT_TARGET = "africastalking"


def _route_from_json(name: str, index: int, item: object, smscs: set[str]) -> RouteSettings:
    where = f"{PREFIX}{name}[{index}]"
    if not isinstance(item, dict):
        raise SettingsError(f"{where} must be an object")
    try:
        checked = _RouteSchema.model_validate(item)
    except ValidationError as exc:
        faults = schema_faults(exc, YAMLDocument(where, item), _RouteSchema)
        raise SettingsError(f"{where}: {'; '.join(f.message for f in faults)}") from None
    if not _SCOPE_NAME.fullmatch(checked.name):
        raise SettingsError(f"{where}.name must be 1-40 letters, digits, '.', '_' or '-'")
    bad = [p for p in checked.prefixes if not re.fullmatch(r"\+?[0-9]{1,15}", p.strip())]
    if bad:
        raise SettingsError(f"{where}.prefixes: {bad[0]!r} is not a number prefix like +254")
    countries = tuple(c.strip().upper() for c in checked.countries)
    for country in countries:
        if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
            raise SettingsError(
                f"{where}.countries: {country!r} is not an ISO 3166 alpha-2 code, e.g. KE"
            )
    if not checked.targets:
        raise SettingsError(f"{where}.targets must list at least one SMSC or africastalking")
    for target in checked.targets:
        if target != AT_TARGET and target not in smscs:
            raise SettingsError(
                f"{where}.targets: {target!r} is neither a transmitting SMSC of "
                "GATEWAY_SMSC nor africastalking"
            )
    if len(set(checked.targets)) != len(checked.targets):
        raise SettingsError(f"{where}.targets: a target is listed twice")
    if checked.tps < 0:
        raise SettingsError(f"{where}.tps must be 0 (no route cap) or a positive rate")
    return RouteSettings(
        name=checked.name,
        targets=tuple(checked.targets),
        prefixes=tuple(p.strip().removeprefix("+") for p in checked.prefixes),
        countries=countries,
        tps=checked.tps,
        failover_on=checked.failover_on,
    )


class _KeySource:
    """Secrets from the environment, else generated once into ``data_dir/keys.json``."""

    def __init__(self, env: Mapping[str, str], data_dir: Path) -> None:
        self.env = env
        self.file = data_dir / "keys.json"
        self._stored: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._stored is None:
            try:
                self._stored = dict(json.loads(self.file.read_text(encoding="utf-8")))
            except FileNotFoundError:
                self._stored = {}
            except (OSError, ValueError) as exc:
                raise SettingsError(f"cannot read generated keys in {self.file}: {exc}") from exc
        return self._stored

    def _generated(self, name: str, make: str) -> str:
        stored = self._load()
        if name not in stored:
            stored[name] = make
            if not self.file.parent.exists():
                # The data folder is private: it holds the keys and the database.
                self.file.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
            temporary = self.file.with_suffix(".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(stored, handle)
            temporary.replace(self.file)
        return stored[name]

    def secret(self, name: str, min_length: int) -> Secret:
        value = self.env.get(PREFIX + name, "").strip()
        if not value:
            value = self._generated(name, secrets.token_urlsafe(32))
        if len(value) < min_length:
            raise SettingsError(f"{PREFIX}{name} must be at least {min_length} characters long")
        return Secret(value)

    def fernet_key(self, name: str) -> Secret:
        value = self.env.get(PREFIX + name, "").strip()
        if not value:
            value = self._generated(name, base64.urlsafe_b64encode(os.urandom(32)).decode())
        try:
            raw = base64.urlsafe_b64decode(value.encode())
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise SettingsError(
                f"{PREFIX}{name} must be 32 bytes in url-safe base64 (a Fernet key)"
            )
        return Secret(value)
