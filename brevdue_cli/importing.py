"""``brevdue import`` and ``brevdue export``: CSV in and out of a list.

The import runs the subscriptions service's own import in this process (it owns the tables it
writes), with a progress bar that follows the bytes of the file read so far; the export runs
the campaigns service's export (audited as ``system``), as the staff API does.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from brevdue_cli.config import load_settings
from brevdue_cli.errors import CliError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def parse_columns(pairs: Sequence[str]) -> dict[str, str] | None:
    """``--map email=E-mail`` pairs as ``{field: header}``; None when none were given."""
    columns: dict[str, str] = {}
    for pair in pairs:
        field, equals, header = pair.partition("=")
        if not equals or not field.strip() or not header.strip():
            raise CliError(f"--map {pair!r}: write FIELD=HEADER, e.g. email=E-mail")
        columns[field.strip()] = header.strip()
    return columns or None


def import_csv(
    var: Path,
    path: Path,
    *,
    list_slug: str,
    attestation: Mapping[str, str | None],
    confirm: bool,
    update_existing: bool,
    language: str,
    columns: dict[str, str] | None,
    key: str | None,
    rejects: Path | None,
) -> int:
    """Import a CSV file into a list; print the counts and write the rejected lines."""
    from rich.console import Console

    from services.subscriptions.import_files import import_file, write_rejects
    from services.subscriptions.imports import ATTESTED, CONFIRM, Attestation, ImportRequest

    settings = load_settings(var=var)
    given = {name: (value or "").strip() for name, value in attestation.items()}
    request = ImportRequest(
        key=key or f"cli-{secrets.token_hex(8)}",
        list_slug=list_slug,
        actor="system",
        mode=CONFIRM if confirm else ATTESTED,
        attestation=None if confirm else Attestation(**given),
        update_existing=update_existing,
        default_language=language,
        columns=columns,
    )
    console = Console(stderr=True)
    try:
        binary = path.open("rb")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    with binary, _bar(console) as bar:
        size = path.stat().st_size
        task = bar.add_task("import", total=size, counts="")

        def progress(row: object) -> None:
            counts = ", ".join(
                f"{name} {getattr(row, name)}" for name in ("added", "invalid", "suppressed")
            )
            done = size if binary.closed else binary.tell()
            bar.update(task, completed=done, counts=counts)

        console.print(f"import key: {request.key} (run again with --key to continue it)")
        job = asyncio.run(import_file(settings, request, binary, progress=progress))
        bar.update(task, completed=size)
    print(
        f"brevdue: import {job.key} {job.state}: {job.rows_done} rows read up to line "
        f"{job.lines_done}; added {job.added}, updated {job.updated}, unchanged {job.unchanged}, "
        f"invalid {job.invalid}, duplicates {job.duplicates}, suppressed {job.suppressed}, "
        f"had left the list {job.withdrawn}"
    )
    if job.invalid or job.duplicates:
        report = rejects or path.with_name(path.stem + ".rejected.csv")
        with report.open("w", encoding="utf-8", newline="") as out:
            written = asyncio.run(write_rejects(settings, job.key, out))
        print(f"brevdue: {written} problems with their line numbers written to {report}")
    return 0


def _bar(console: Console) -> Progress:
    # Imported here: rich is only needed by the commands that draw a bar.
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
        console=console,
        transient=False,
    )


def export_csv(var: Path, *, list_slug: str, statuses: Sequence[str], output: Path | None) -> int:
    """Write a list's subscribers as CSV to ``output`` (or standard output), page by page."""
    from services.campaigns.list_export import export_lines, start_list_export
    from shared.db import create_engine, create_sessionmaker

    settings = load_settings(var=var)

    async def export(out: IO[str]) -> None:
        engine = create_engine(settings.database_url)
        try:
            sessions = create_sessionmaker(engine)
            async with sessions() as session:
                selection = await start_list_export(session, list_slug, statuses, actor="system")
            async for lines in export_lines(sessions, selection):
                out.write(lines)
        finally:
            await engine.dispose()

    if output is None:
        asyncio.run(export(sys.stdout))
        return 0
    with output.open("w", encoding="utf-8", newline="") as out:
        asyncio.run(export(out))
    print(f"brevdue: the subscribers of {list_slug} written to {output}", file=sys.stderr)
    return 0
