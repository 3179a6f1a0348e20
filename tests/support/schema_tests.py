"""Schema-driven HTTP tests: schemathesis generates requests from a service's OpenAPI schema
and sends them to the service running on a real port."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.case import Case

SCHEMA_PATH = "/schema/openapi.json"

# Inputs no generator thinks of, sent to every operation on top of the generated requests:
# browser headers that are no URL at all, and JSON nested deeper than any decoder recurses.
HOSTILE_HEADERS: tuple[dict[str, str], ...] = (
    {"Origin": "http://[::1"},
    {"Referer": "http://["},
    {"Origin": "http://localhost:99999"},
    {"Referer": "null"},
)
DEEP_JSON: tuple[bytes, ...] = (
    b'{"a":' * 1000 + b"1" + b"}" * 1000,  # 2 KB
    b"[" * 5000 + b"]" * 5000,
)


@dataclass
class SchemaRun:
    """What a run sent and got: operations tried, answers by status, server errors found,
    and which operations got which hostile inputs (``"header"``, ``"deep-json"``)."""

    operations: int = 0
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    hostile: set[tuple[str, str]] = field(default_factory=set)
    seconds: Counter[str] = field(default_factory=Counter)


def run_schema(
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    max_examples: int = 25,
    skip: Callable[[str], bool] = lambda label: False,
    hostile: bool = True,
    known: Mapping[str, str] | None = None,
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    checks: tuple[CheckFunction, ...] = (not_a_server_error,),
) -> SchemaRun:
    """Send generated requests (valid and invalid) to every operation of the schema served at
    ``base_url`` in each of ``modes``, then the hostile inputs above (unless ``hostile`` is off);
    path parameters named in ``known`` are set to those values in every other valid request and
    in the hostile ones, so they reach past "not found". The run names each operation whose
    answer failed one of ``checks`` (by default: a server error).

    Blocking: call it from a thread while the server runs in the test's event loop.
    """
    schema = schemathesis.openapi.from_url(base_url + SCHEMA_PATH, headers=dict(headers or {}))
    run = SchemaRun()
    first_cases: dict[str, Case] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if skip(operation.label):
            continue
        run.operations += 1
        started = time.monotonic()
        for mode in modes:

            @settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case: Case) -> None:
                first_cases.setdefault(case.operation.label, case)
                run.sent += 1
                # Every other valid request names objects that exist, so the run reaches past
                # "not found" into what the operation does. (``call`` runs within this
                # iteration, so the loop's current mode is the one meant.)
                positive = mode is GenerationMode.POSITIVE  # noqa: B023
                if positive and run.sent % 2 and case.path_parameters:
                    for name in case.path_parameters.keys() & (known or {}).keys():
                        case.path_parameters[name] = (known or {})[name]
                response = case.call(base_url=base_url, headers=dict(headers or {}), timeout=20)
                run.statuses[response.status_code] += 1
                case.validate_response(response, checks=list(checks))

            try:
                call()
            except Unsatisfiable:
                continue  # nothing to make invalid (an operation without parameters or body)
            except (Exception, FailureGroup) as exc:
                run.errors.append(f"{operation.label} ({mode.value}): {str(exc)[:2000]}")
        if hostile and operation.label in first_cases:
            case = first_cases[operation.label]
            for name, value in (known or {}).items():
                if case.path_parameters and name in case.path_parameters:
                    case.path_parameters[name] = value
            _send_hostile(run, case, base_url, dict(headers or {}))
        run.seconds[operation.label] += time.monotonic() - started
    return run


def _send_hostile(run: SchemaRun, case: Case, base_url: str, headers: dict[str, str]) -> None:
    """A generated request of the operation again: with each hostile header, and, where the
    operation takes a body, with each deeply nested JSON body instead of its own (a form-only
    operation should refuse it as such)."""
    label = case.operation.label
    variants: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        ("header", {**headers, **extra}, {}) for extra in HOSTILE_HEADERS
    ]
    if case.operation.get_request_payload_content_types():
        json_headers = {**headers, "Content-Type": "application/json"}
        variants += [("deep-json", json_headers, {"data": body}) for body in DEEP_JSON]
    for kind, sent_headers, body in variants:
        response = case.call(base_url=base_url, headers=sent_headers, timeout=20, **body)
        run.statuses[response.status_code] += 1
        run.hostile.add((label, kind))
        if response.status_code >= 500:
            shown = {k: v for k, v in sent_headers.items() if k in ("Origin", "Referer")}
            run.errors.append(f"{label} ({kind} {shown}): {response.status_code}")
