"""Schema-driven HTTP tests: schemathesis generates requests from a service's OpenAPI schema
and sends them to the service running on a real port."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case

SCHEMA_PATH = "/schema/openapi.json"


@dataclass
class SchemaRun:
    """What a run sent and got: operations tried, answers by status, server errors found."""

    operations: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def run_schema(
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    max_examples: int = 25,
    skip: Callable[[str], bool] = lambda label: False,
) -> SchemaRun:
    """Send generated requests (valid and invalid) to every operation of the schema served at
    ``base_url``; the run names each operation that answered with a server error.

    Blocking: call it from a thread while the server runs in the test's event loop.
    """
    schema = schemathesis.openapi.from_url(base_url + SCHEMA_PATH, headers=dict(headers or {}))
    run = SchemaRun()
    for result in schema.get_all_operations():
        operation = result.ok()
        if skip(operation.label):
            continue
        run.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

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
                response = case.call(base_url=base_url, headers=dict(headers or {}), timeout=20)
                run.statuses[response.status_code] += 1
                case.validate_response(response, checks=[not_a_server_error])

            try:
                call()
            except Unsatisfiable:
                continue  # nothing to make invalid (an operation without parameters or body)
            except Exception as exc:
                run.errors.append(f"{operation.label} ({mode.value}): {str(exc)[:2000]}")
    return run
