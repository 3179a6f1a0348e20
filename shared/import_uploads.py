"""Import files between the staff app and the subscriptions worker: kept in Redis in chunks,
and the file format both sides read the same way (encoding, delimiter, header, field names).

The campaigns service stores an upload and shows its header for the column mapping; the
subscriptions worker reads it back chunk by chunk into a temporary file and imports it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import Final, TypeVar

from redis.asyncio import Redis

from shared.queues import IMPORT_UPLOAD_PREFIX

T = TypeVar("T")

CHUNK_BYTES: Final = 256 * 1024
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024  # about 500,000 rows of a typical export
UPLOAD_SECONDS: Final = 2 * 24 * 3600  # the mapping may wait a day; the import resumes
# The fields a column can fill besides custom fields (``custom.<key>``).
FIELDS: Final = ("email", "name", "language", "municipality")
CUSTOM_PREFIX: Final = "custom."
DELIMITERS: Final = ",;\t"
# Header names recognised without a mapping (compared case-insensitively), in da/sv/en.
HEADER_NAMES: Final[Mapping[str, frozenset[str]]] = {
    "email": frozenset(
        {"email", "e-mail", "mail", "email address", "e-mail address", "e-mailadresse"}
        | {"emailadresse", "e-post", "epost", "e-postadress", "mailadresse", "adresse"}
    ),
    "name": frozenset({"name", "navn", "namn", "full name", "fulde navn", "fullständigt namn"}),
    "language": frozenset({"language", "sprog", "språk", "lang"}),
    "municipality": frozenset({"municipality", "kommune", "kommun"}),
}


class UploadTooLarge(Exception):
    """The file is larger than MAX_UPLOAD_BYTES."""


async def _awaited(result: Awaitable[T] | T) -> T:
    # redis-py types its list commands for both clients; the asyncio one returns awaitables.
    if inspect.isawaitable(result):
        return await result
    return result


def upload_key(key: str) -> str:
    """The Redis list holding an import's file."""
    return f"{IMPORT_UPLOAD_PREFIX}{key}:file"


async def store_upload(store: Redis, key: str, chunks: AsyncIterator[bytes]) -> int:
    """Keep a file in Redis in chunks; return its size. Raises UploadTooLarge (nothing kept)."""
    name = upload_key(key)
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            await store.delete(name)
            raise UploadTooLarge
        if chunk:
            await _awaited(store.rpush(name, chunk))
            await store.expire(name, UPLOAD_SECONDS)
    return size


async def upload_chunks(store: Redis, key: str) -> AsyncIterator[bytes]:
    """The stored file's chunks in order, one read each (never the whole file at once)."""
    index = 0
    while True:
        # A client without decode_responses (as every Brevdue client is) answers bytes.
        chunk: object = await _awaited(store.lindex(upload_key(key), index))
        if chunk is None:
            return
        assert isinstance(chunk, bytes)
        yield chunk
        index += 1


async def has_upload(store: Redis, key: str) -> bool:
    """Whether the file of ``key`` is (still) stored."""
    return bool(await store.exists(upload_key(key)))


async def drop_upload(store: Redis, key: str) -> None:
    """Delete a stored file (once imported)."""
    await store.delete(upload_key(key))


def is_utf8(start: bytes) -> bool:
    """Whether the first bytes of a file are UTF-8 (a character cut off at the end counts)."""
    try:
        start.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(start) - 3 and exc.reason == "unexpected end of data"
    return True


def text_encoding(start: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 (Excel's "CSV" in Danish and Swedish)."""
    return "utf-8-sig" if is_utf8(start) else "cp1252"


def delimiter_of(header_line: str) -> str:
    """The delimiter the header line uses most: comma, semicolon or tab."""
    return max(DELIMITERS, key=header_line.count)


def guess_columns(header: Sequence[str], custom_keys: Sequence[str]) -> dict[str, str]:
    """The field each header names, for a first mapping staff then correct: ``{field: header}``.

    Custom fields are recognised by their key (or ``custom.<key>``).
    """
    columns: dict[str, str] = {}
    for title in header:
        wanted = title.strip().casefold()
        for field, names in HEADER_NAMES.items():
            if wanted in names and field not in columns:
                columns[field] = title
        key = wanted.removeprefix(CUSTOM_PREFIX)
        if key in custom_keys and CUSTOM_PREFIX + key not in columns:
            columns[CUSTOM_PREFIX + key] = title
    return columns
