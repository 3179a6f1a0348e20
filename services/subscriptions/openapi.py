"""The service's OpenAPI description (served at /schema/openapi.json).

Handlers that read their bodies themselves (so that a bad body becomes a field-level 4xx, not
Litestar's generic 400) have no ``data`` parameter for Litestar to describe; the request
bodies they accept are declared here instead, so schema-driven tests can send them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from shared.languages import LANGUAGES

FORM: Final = "application/x-www-form-urlencoded"
JSON: Final = "application/json"

_TEXT: Final = Schema(type=OpenAPIType.STRING)
_TEXTS: Final = Schema(type=OpenAPIType.ARRAY, items=_TEXT)
_LANGUAGE: Final = Schema(type=OpenAPIType.STRING, enum=list(LANGUAGES))
_MUNICIPALITY: Final = Schema(
    type=OpenAPIType.STRING,
    description=(
        "Optional: a municipality id from shared/municipalities.py (dk-…, se-…), "
        "or dk-elsewhere, se-elsewhere, abroad; an empty value means none."
    ),
)
_ANY: Final = Schema()

SUBSCRIBE_JSON: Final = Schema(
    type=OpenAPIType.OBJECT,
    description="A sign-up. Every field is checked; refusals name the field (422).",
    properties={
        "email": _TEXT,
        "lists": Schema(one_of=[_TEXTS, _TEXT]),
        "language": _LANGUAGE,
        "name": _TEXT,
        "municipality": _MUNICIPALITY,
        "consent": Schema(
            one_of=[
                Schema(type=OpenAPIType.BOOLEAN),
                Schema(type=OpenAPIType.INTEGER),
                _TEXT,
            ]
        ),
        "site": _TEXT,
        "website": _ANY,
        "altcha": _TEXT,
        "custom": Schema(type=OpenAPIType.OBJECT, additional_properties=_ANY),
        "consent_version": _TEXT,
        "via": Schema(
            type=OpenAPIType.STRING,
            enum=["widget", "api"],
            description="The front end that sent it, for the consent record (default api).",
        ),
    },
    required=["email", "lists", "consent"],
)
SUBSCRIBE_FORM: Final = Schema(
    type=OpenAPIType.OBJECT,
    description="The sign-up form; public custom fields are sent as custom.<key>.",
    properties={
        "email": _TEXT,
        "lists": _TEXTS,
        "language": _LANGUAGE,
        "name": _TEXT,
        "municipality": _MUNICIPALITY,
        "consent": _TEXT,
        "site": _TEXT,
        "website": _TEXT,
        "altcha": _TEXT,
        "consent_version": _TEXT,
    },
    required=["email", "lists", "consent"],
    additional_properties=_TEXT,
)
PREFERENCES_FORM: Final = Schema(
    type=OpenAPIType.OBJECT,
    description="The preference form; public custom fields are sent as field_<key>.",
    properties={
        "lists": _TEXTS,
        "language": _LANGUAGE,
        "name": _TEXT,
        "municipality": _MUNICIPALITY,
    },
    additional_properties=_TEXT,
)
ONE_CLICK_FORM: Final = Schema(
    type=OpenAPIType.OBJECT,
    properties={"List-Unsubscribe": Schema(type=OpenAPIType.STRING, enum=["One-Click"])},
)


def with_body(content: Mapping[str, Schema], *, required: bool = True) -> type[Operation]:
    """An Operation class that declares the request body a handler reads itself."""

    @dataclass
    class BodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={
                    media: OpenAPIMediaType(schema=schema) for media, schema in content.items()
                },
                required=required,
            )

    return BodyOperation


SUBSCRIBE_BODY: Final = with_body({JSON: SUBSCRIBE_JSON, FORM: SUBSCRIBE_FORM})
EMBED_BODY: Final = with_body({FORM: SUBSCRIBE_FORM})
PREFERENCES_BODY: Final = with_body({FORM: PREFERENCES_FORM})
ONE_CLICK_BODY: Final = with_body({FORM: ONE_CLICK_FORM}, required=False)


def openapi_config() -> OpenAPIConfig:
    """Only the JSON description is served: no documentation UI on the residents' service."""
    return OpenAPIConfig(
        title="Brevdue subscriptions",
        version="0.1.0",
        description="Public side of Brevdue: sign-up, confirmation, preferences, widget.",
        render_plugins=[JsonRenderPlugin()],
    )
