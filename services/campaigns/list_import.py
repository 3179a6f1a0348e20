"""The staff app's import: keep the uploaded file, read its header for the column mapping,
check the mapping and the consent attestation, and hand the import to the subscriptions
worker, which owns the subscribers and runs it (shared/contracts.py ``ImportSubscribers``).
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

from litestar.datastructures import UploadFile
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.campaigns import queries, staff_audit
from services.campaigns.errors import N_, InvalidInput
from services.campaigns.queries.imports import ImportStatusRow, rejected_lines_page
from shared.contracts import ImportSubscribers
from shared.import_uploads import (
    CHUNK_BYTES,
    CUSTOM_PREFIX,
    FIELDS,
    MAX_UPLOAD_BYTES,
    UPLOAD_SECONDS,
    UploadTooLarge,
    delimiter_of,
    guess_columns,
    store_upload,
    text_encoding,
    upload_chunks,
)
from shared.jobs import JobQueue, enqueue
from shared.languages import LANGUAGES
from shared.queues import IMPORT_SUBSCRIBERS, IMPORT_UPLOAD_PREFIX

MODES: Final = ("attested", "confirm")
ATTESTATION_LIMITS: Final[Mapping[str, int]] = {
    "consent_basis": 200,
    "consent_collected": 200,
    "consent_method": 500,
    "attested_by": 200,
}
REJECTS_PAGE: Final = 1000


async def receive_upload(redis: Redis, upload: UploadFile) -> str:
    """Keep an uploaded file in Redis; its new import key. InvalidInput when it is empty,
    too large or has no header."""
    key = secrets.token_urlsafe(12)

    async def chunks() -> AsyncIterator[bytes]:
        while data := await upload.read(CHUNK_BYTES):
            yield data

    try:
        size = await store_upload(redis, key, chunks())
    except UploadTooLarge:
        limit = MAX_UPLOAD_BYTES // (1024 * 1024)
        raise InvalidInput(N_("the file is too large"), {"file": f"max {limit} MB"}) from None
    if not size or not await read_header(redis, key):
        raise InvalidInput(N_("the file has no header line"), {"file": "no header"})
    return key


async def read_header(redis: Redis, key: str) -> list[str] | None:
    """The column names of a stored file (its first line); None when it is not stored."""
    async for chunk in upload_chunks(redis, key):
        text = chunk.decode(text_encoding(chunk), errors="replace")
        first = text.splitlines()[0] if text.strip() else ""
        if not first.strip():
            return []
        return [cell.strip() for cell in next(csv.reader([first], delimiter=delimiter_of(first)))]
    return None


def mapping_fields(field_keys: Sequence[str]) -> list[str]:
    """Every field a column can fill: the standard ones, then ``custom.<key>``."""
    return [*FIELDS, *(CUSTOM_PREFIX + key for key in field_keys)]


def first_mapping(header: Sequence[str], field_keys: Sequence[str]) -> dict[str, str]:
    """The mapping the form starts with, guessed from the header's names."""
    return guess_columns(header, field_keys)


def import_from_form(
    form: Mapping[str, Any],
    *,
    key: str,
    header: Sequence[str],
    list_slugs: Sequence[str],
    field_keys: Sequence[str],
    actor: str,
) -> ImportSubscribers:
    """The import the setup form asks for; InvalidInput naming every field at fault."""
    errors: dict[str, str] = {}
    columns = _columns(form, header, field_keys, errors)
    slug = str(form.get("list") or "")
    if slug not in list_slugs:
        errors["list"] = N_("choose a list")
    mode = str(form.get("mode") or "")
    if mode not in MODES:
        errors["mode"] = N_("choose how consent is documented")
    language = str(form.get("default_language") or "")
    if language not in LANGUAGES:
        errors["default_language"] = N_("choose a language")
    attested = mode == "attested"
    attestation = _attestation(form, errors) if attested else dict.fromkeys(ATTESTATION_LIMITS)
    if errors:
        raise InvalidInput(N_("the import cannot start yet"), errors)
    return ImportSubscribers(
        key=key,
        list_slug=slug,
        actor=actor,
        mode="attested" if attested else "confirm",
        columns=columns,
        update_existing=form.get("update_existing") == "on",
        default_language=language,
        **attestation,
    )


def _columns(
    form: Mapping[str, Any],
    header: Sequence[str],
    field_keys: Sequence[str],
    errors: dict[str, str],
) -> dict[str, str]:
    columns: dict[str, str] = {}
    for field in mapping_fields(field_keys):
        title = str(form.get(f"column.{field}") or "")
        if not title:
            continue
        if title not in header:
            errors[f"column.{field}"] = N_("choose one of the file's columns")
        elif title in columns.values():
            errors[f"column.{field}"] = N_("this column is already used for another field")
        else:
            columns[field] = title
    if "email" not in columns and "column.email" not in errors:
        errors["column.email"] = N_("choose the column with the email addresses")
    return columns


def _attestation(form: Mapping[str, Any], errors: dict[str, str]) -> dict[str, str | None]:
    given = {name: str(form.get(name) or "").strip() for name in ATTESTATION_LIMITS}
    for name, limit in ATTESTATION_LIMITS.items():
        if not given[name]:
            errors[name] = N_("required for an attested import")
        elif len(given[name]) > limit:
            errors[name] = N_("too long")
    return dict(given)


def _queued_key(key: str) -> str:
    return f"{IMPORT_UPLOAD_PREFIX}{key}:queued"


async def start_import(
    db: AsyncSession, redis: Redis, jobs: JobQueue, job: ImportSubscribers, *, actor: str
) -> None:
    """Hand the import to the subscriptions worker and record it in the staff audit trail."""
    await enqueue(jobs, IMPORT_SUBSCRIBERS, job)
    await redis.set(_queued_key(job.key), b"1", ex=UPLOAD_SECONDS)
    await staff_audit.record(
        db,
        actor,
        "import.start",
        f"import:{job.key}",
        {"list": job.list_slug, "mode": job.mode, "fields": sorted(job.columns)},
    )
    await db.commit()


async def is_queued(redis: Redis, key: str) -> bool:
    """Whether the import of ``key`` was handed to the worker (it may not have started yet)."""
    return bool(await redis.exists(_queued_key(key)))


async def import_status(db: AsyncSession, key: str) -> ImportStatusRow | None:
    """The import's progress and counters, once the worker has started it."""
    return await queries.import_by_key(db, key)


async def rejected_lines_csv(
    sessions: async_sessionmaker[AsyncSession], import_id: int
) -> AsyncIterator[str]:
    """The rejected lines as CSV (line, field, problem, detail), a page at a time."""
    yield "line,field,problem,detail\r\n"
    after: tuple[int, str] = (0, "")
    while True:
        async with sessions() as session, session.begin():
            rows = await rejected_lines_page(session, import_id, after=after, limit=REJECTS_PAGE)
        if not rows:
            return
        yield "".join(
            f"{row.line},{_cell(row.field)},{row.problem},{_cell(row.detail or '')}\r\n"
            for row in rows
        )
        after = (rows[-1].line, rows[-1].field)


def _cell(text: str) -> str:
    if any(char in text for char in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
