"""Reading an import's CSV file: its encoding and delimiter, which column holds which field,
and each line checked into a row to import or the reasons it cannot be imported.

Lines are read one at a time from the file (never the whole file in memory) and numbered as a
spreadsheet shows them: the header is line 1, and a quoted value spanning lines counts every
line it spans.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import IO, Any, Final

from services.subscriptions.errors import FieldProblem
from services.subscriptions.queries import CustomFieldRow, RejectRow
from services.subscriptions.schemas import MAX_NAME, check_email, is_clean
from shared.addresses import address_identity
from shared.custom_fields import InvalidCustomValue, validate_custom_value
from shared.import_uploads import CUSTOM_PREFIX, FIELDS, delimiter_of, text_encoding
from shared.languages import LANGUAGES
from shared.municipalities import find_municipality

# Enough of the file to tell UTF-8 from a Windows code page.
SNIFF_BYTES: Final = 64 * 1024
MAX_HEADER_COLUMNS: Final = 200
MAX_CELL: Final = 10_000  # longer than any field takes; a longer cell is refused, not parsed


class ImportFileError(Exception):
    """The file as a whole cannot be imported: ``problem`` says why (and ``detail`` what)."""

    def __init__(self, problem: str, detail: str = "") -> None:
        self.problem = problem
        self.detail = detail
        super().__init__(f"{problem}: {detail}" if detail else problem)


@dataclass(frozen=True, slots=True)
class CheckedRow:
    """A line that can be imported: the address as typed, its identity and the details."""

    line: int
    email: str
    email_key: str
    name: str | None
    language: str | None
    municipality: str | None
    custom: dict[str, Any] | None


@dataclass
class CsvSource:
    """An open CSV file: the header, the reader over the rest, and the line it has reached."""

    header: list[str]
    reader: Any  # csv.reader over the text stream; typeshed names no public type for it
    # Held so the wrapper (which closes the file when collected) lives as long as the reader.
    text: IO[str]

    @property
    def line(self) -> int:
        """The last physical line read so far."""
        return int(self.reader.line_num)


def open_csv(binary: IO[bytes]) -> CsvSource:
    """Read the header of a CSV file (UTF-8, with or without BOM, or Windows-1252) and
    choose the delimiter (comma, semicolon or tab) the header uses most."""
    start = binary.read(SNIFF_BYTES)
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding=text_encoding(start), newline="")
    first = text.readline()
    if not first.strip():
        raise ImportFileError("no_header")
    delimiter = delimiter_of(first)
    reader = csv.reader(_chain_first(first, text), delimiter=delimiter)
    header = [cell.strip() for cell in next(reader)]
    if len(header) > MAX_HEADER_COLUMNS:
        raise ImportFileError("too_many_columns", str(MAX_HEADER_COLUMNS))
    return CsvSource(header, reader, text)


def _chain_first(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def resolve_columns(
    header: Sequence[str], columns: Mapping[str, str], custom_keys: Sequence[str]
) -> dict[str, int]:
    """``{field: header}`` as column positions; raises ImportFileError when the email column
    is missing or a field or header is unknown."""
    positions: dict[str, int] = {}
    for field, title in columns.items():
        is_custom = field.startswith(CUSTOM_PREFIX) and field[len(CUSTOM_PREFIX) :] in custom_keys
        if field not in FIELDS and not is_custom:
            raise ImportFileError("unknown_field", field[:64])
        if title not in header:
            raise ImportFileError("unknown_column", title[:64])
        positions[field] = header.index(title)
    if "email" not in positions:
        raise ImportFileError("no_email_column")
    return positions


def read_lines(source: CsvSource) -> Iterator[tuple[int, list[str] | None]]:
    """Each record after the header with the line it starts on; None for a line the CSV
    parser could not read (an over-long or malformed value). Blank lines are skipped."""
    while True:
        start = source.line + 1
        try:
            cells = next(source.reader)
        except StopIteration:
            return
        except csv.Error:
            yield start, None
            continue
        if any(cell.strip() for cell in cells):
            yield start, cells


def check_line(
    line: int,
    cells: list[str] | None,
    positions: Mapping[str, int],
    definitions: Mapping[str, CustomFieldRow],
) -> CheckedRow | list[RejectRow]:
    """The row a line imports, or every reason it cannot be imported."""
    if cells is None:
        return [RejectRow(line, "line", "malformed")]
    rejects: list[RejectRow] = []

    def cell(field: str) -> str:
        position = positions.get(field)
        if position is None or position >= len(cells):
            return ""
        return cells[position].strip()

    problems: dict[str, FieldProblem] = {}
    email = checked_email(cell("email")[:MAX_CELL], problems)
    if "email" in problems:
        problem = problems["email"]
        rejects.append(RejectRow(line, "email", problem.code, problem.detail or None))
    name = _name(line, cell("name"), rejects)
    language = _language(line, cell("language"), rejects)
    municipality = _municipality(line, cell("municipality"), rejects)
    custom = _custom(line, cell, positions, definitions, rejects)
    if rejects or email is None:
        return rejects
    return CheckedRow(line, email, address_identity(email), name, language, municipality, custom)


def _name(line: int, value: str, rejects: list[RejectRow]) -> str | None:
    if not value:
        return None
    if len(value) > MAX_NAME:
        rejects.append(RejectRow(line, "name", "too_long", str(MAX_NAME)))
    elif not is_clean(value):
        rejects.append(RejectRow(line, "name", "invalid"))
    return value


def _language(line: int, value: str, rejects: list[RejectRow]) -> str | None:
    if not value:
        return None
    language = value.lower()
    if language not in LANGUAGES:
        rejects.append(RejectRow(line, "language", "unknown"))
        return None
    return language


def _municipality(line: int, value: str, rejects: list[RejectRow]) -> str | None:
    if not value:
        return None
    found = _municipality_of(value[:MAX_CELL])
    if found is None:
        rejects.append(RejectRow(line, "municipality", "unknown"))
        return None
    return found.id


# A plain dot-atom local part (RFC 5322), which the full check always accepts as typed.
_PLAIN_LOCAL: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
)
_MAX_PLAIN: Final = 254  # the full check's limit of a whole address
_MAX_LOCAL: Final = 64


def checked_email(raw: str, problems: dict[str, FieldProblem]) -> str | None:
    """The sign-up's address check (schemas.check_email), with each domain checked once per
    file: a file has few domains, and checking one costs most of an address's time."""
    local, at, domain = raw.rpartition("@")
    if at and len(raw) <= _MAX_PLAIN and len(local) <= _MAX_LOCAL and _PLAIN_LOCAL.fullmatch(local):
        normalised = _checked_domain(domain)
        if normalised is not None:
            return f"{local}@{normalised}"
    return check_email(raw, problems)


@lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> str | None:
    """The domain as check_email stores it, or None to let the full check say what is wrong."""
    found = check_email("x@" + domain, {})
    return found.partition("@")[2] if found else None


# Files repeat a few municipality names; finding one by name scans them all.
_municipality_of = lru_cache(maxsize=1024)(find_municipality)


def _custom(
    line: int,
    cell: Any,
    positions: Mapping[str, int],
    definitions: Mapping[str, CustomFieldRow],
    rejects: list[RejectRow],
) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    for field in positions:
        key = field.removeprefix(CUSTOM_PREFIX)
        if key == field:
            continue
        raw = cell(field)
        if not raw:
            # An empty cell says nothing; it neither clears nor fails a required field.
            continue
        definition = definitions[key]
        try:
            value = validate_custom_value(asdict(definition), raw[:MAX_CELL])
        except InvalidCustomValue as exc:
            problem = "too_long" if "at most" in exc.reason else "invalid"
            rejects.append(RejectRow(line, field[:64], problem))
            continue
        if value is not None:
            values[key] = value
    return values or None
