"""The declared shape of a menu tree file: every key a tree or a screen may have.

A key not declared here is refused with its line (``ned: true`` for ``end: true``),
and each value's type is checked, before :mod:`gateway.menu.loader` builds the tree
and :mod:`gateway.menu.validator` checks its links, translations and lengths.
"""

from __future__ import annotations

from pydantic import Field

from gateway.content.file_schema import FileSchema
from gateway.menu.model import Action, ScreenKind, Validation

# Per-language text; an empty value counts as missing (the validator reports it).
TextsSchema = dict[str, str | None]


class OptionSchema(FileSchema):
    key: str
    goto: str
    label: TextsSchema | None = None


class ScreenSchema(FileSchema):
    type: ScreenKind = ScreenKind.MENU
    text: TextsSchema | None = None
    options: list[OptionSchema] | None = None
    goto: str | None = None
    end: bool = False
    action: Action | None = None
    topic: str | None = None
    copy_of: str | None = None
    validation: Validation | None = Field(default=None, alias="validate")
    variable: str | None = None
    error: TextsSchema | None = None
    catalog: str | None = None
    entries: list[str] | None = None


class NavigationSchema(FileSchema):
    """The navigation's own words; any may be left to the defaults."""

    more: TextsSchema | None = None
    back: TextsSchema | None = None
    home: TextsSchema | None = None
    invalid: TextsSchema | None = None
    exit: TextsSchema | None = None
    resume: TextsSchema | None = None
    unavailable: TextsSchema | None = None
    voice_keys: TextsSchema | None = None
    roamer_sms: TextsSchema | None = None


class TreeSchema(FileSchema):
    tree: str | None = None
    sample: bool = False
    service_codes: list[str] | None = None  # USSD codes, SMS and voice numbers it answers
    sms_number: str | None = None  # offered to roamers: "text MENU to <sms_number>"
    # The service's own content folder, a name under GATEWAY_CONTENT (catalogs, topics,
    # keywords); absent: the service shares the default's content.
    content: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    languages: list[str] = Field(min_length=1)
    fallback_language: str | None = None
    start: str
    home: str
    language_names: TextsSchema | None = None
    navigation: NavigationSchema | None = None
    screens: dict[str, ScreenSchema] = Field(min_length=1)
