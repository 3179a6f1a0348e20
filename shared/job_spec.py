"""What a job is: its name, queue, payload and result contracts, and how its id is built.

One ``JobSpec`` per job, declared in ``shared/queues.py``, is all that the service enqueueing a
job and the worker running it have to agree on.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import msgspec

P = TypeVar("P", bound=msgspec.Struct)
R = TypeVar("R")

# Whether a job id carries a tag after its fields: a request stamp (resume, retry), or a fresh
# suffix under which the reconciler enqueues a lost job again.
TagRule = Literal["never", "optional", "required"]


@dataclass(frozen=True)
class JobId:
    """A job id read back: the spec it belongs to, its fields and its tag."""

    spec: JobSpec[Any, Any]
    fields: Mapping[str, str]
    tag: str | None


@dataclass(frozen=True)
class JobSpec(Generic[P, R]):
    """One job: the arq function name, its queue, payload and result types, and its id.

    ``id_template`` names the id's fields in ``str.format`` style; ``id_fields`` takes them
    from the payload (by default the payload's own fields). Ids are deterministic, which makes
    enqueueing idempotent: arq refuses a second job with an id it still knows.
    """

    name: str
    queue: str
    payload: type[P]
    result: type[R]
    id_template: str
    id_fields: Callable[[P], Mapping[str, object]] = msgspec.structs.asdict
    tag: TagRule = "never"
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pattern", _id_pattern(self.id_template, self.tag))

    def job_id(self, payload: P, tag: str | None = None) -> str:
        """The deterministic id of the job for ``payload`` (and ``tag``, when it takes one)."""
        if (tag is None and self.tag == "required") or (tag is not None and self.tag == "never"):
            raise ValueError(f"job {self.name}: a tag is {self.tag} in its id")
        if tag is not None and (not tag or ":" in tag):
            raise ValueError(f"job {self.name}: a tag is one non-empty part without colons")
        base = self.id_template.format_map(self.id_fields(payload))
        return base if tag is None else f"{base}:{tag}"

    def parse_id(self, job_id: str) -> JobId | None:
        """The fields and tag of one of this job's ids; None when ``job_id`` is not one."""
        match = self._pattern.fullmatch(job_id)
        if match is None:
            return None
        fields = match.groupdict()
        tag = fields.pop("_tag", None)
        return JobId(self, fields, tag)

    def encode(self, payload: P) -> dict[str, Any]:
        """The payload as plain builtins, for the msgpack job serializer."""
        return _builtins(payload)

    def decode(self, value: Any) -> P:
        """A job argument validated back into the payload type (msgspec.ValidationError if not)."""
        return msgspec.convert(value, self.payload)

    def encode_result(self, result: R) -> Any:
        """The handler's result as plain builtins, as arq stores it."""
        return msgspec.to_builtins(result)

    def decode_result(self, value: Any) -> R:
        """A stored result validated back into the result type (msgspec.ValidationError if not)."""
        return msgspec.convert(value, self.result)


@dataclass(frozen=True)
class CronSpec:
    """A job without a payload that arq runs on a schedule (and tests may enqueue by name)."""

    name: str
    queue: str


def parse_job_id(job_id: str, specs: tuple[JobSpec[Any, Any], ...]) -> JobId | None:
    """Which of ``specs`` made ``job_id``, with its fields; None when none did."""
    for spec in specs:
        parsed = spec.parse_id(job_id)
        if parsed is not None:
            return parsed
    return None


def _builtins(payload: msgspec.Struct) -> dict[str, Any]:
    value = msgspec.to_builtins(payload)
    assert isinstance(value, dict)
    return value


def _id_pattern(template: str, tag: TagRule) -> re.Pattern[str]:
    # Fields match as little as they can, so that the literal parts between them (and the tag,
    # which never holds a colon) decide where each one ends.
    parts = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(f"(?P<{name}>.+?)")
    tail = {"never": "", "optional": "(?::(?P<_tag>[^:]+))?", "required": ":(?P<_tag>[^:]+)"}
    return re.compile("".join(parts) + tail[tag])
