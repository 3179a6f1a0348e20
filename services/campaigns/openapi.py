"""What the staff API's OpenAPI description says beyond what Litestar infers.

Handlers decode their JSON bodies themselves (``schemas.decode_json``), so that a bad body is
refused naming the field; Litestar then sees no ``data`` parameter and would describe no
request body. ``json_body`` declares it from the same msgspec Struct the handler decodes.
Every refusal has the body ``{"error": …, "errors": {field: reason}}`` (``app.py``), not
Litestar's default ``{"status_code", "detail"}``, and ``ApiOperation`` says so for 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final, cast

import msgspec
from litestar import Router
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)

JSON: Final = "application/json"

ERROR_BODY: Final = Schema(
    type=OpenAPIType.OBJECT,
    description="A refusal: what is wrong, and per field why.",
    properties={
        "error": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING)
        ),
    },
    required=["error"],
)


@dataclass
class ApiOperation(Operation):
    """An operation of the staff API: its 400 answer has the API's error body."""

    def __post_init__(self) -> None:
        if self.responses and "400" in self.responses:
            self.responses["400"] = OpenAPIResponse(
                description="The request is not valid.",
                content={JSON: OpenAPIMediaType(schema=ERROR_BODY)},
            )


@cache
def json_body(kind: type[msgspec.Struct], *, required: bool = True) -> type[Operation]:
    """An operation class declaring that the handler reads a JSON body of ``kind``."""
    # msgspec writes JSON Schema 2020-12, which OpenAPI 3.1 takes as it is; the nested
    # definitions are inlined so the operation needs no components of its own.
    schema = cast(Schema, _inline(msgspec.json.schema(kind)))

    @dataclass
    class JsonBodyOperation(ApiOperation):
        def __post_init__(self) -> None:
            super().__post_init__()
            self.request_body = RequestBody(
                content={JSON: OpenAPIMediaType(schema=schema)}, required=required
            )

    return JsonBodyOperation


def document_errors(router: Router) -> Router:
    """Give every handler of ``router`` that has no operation class of its own ApiOperation."""
    for route in router.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and handler.operation_class is Operation:
                handler.operation_class = ApiOperation
    return router


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    definitions: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:
                    # A recursive type (a segment's nested rule groups) cannot be inlined
                    # whole: below its first level it is described as any object, and the
                    # handler's own decoding checks the rest.
                    return {"type": "object", "description": f"{name}, nested"}
                return resolve(definitions[name], (*seen, name))
            return {key: resolve(value, seen) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema, ())
    return resolved
