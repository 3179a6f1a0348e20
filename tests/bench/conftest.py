"""Fixtures for the benchmarks' small runs: a results folder and a database of their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, WORKER


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary results folder, so small runs never land in bench/results."""
    directory = tmp_path / "results"
    monkeypatch.setenv("BREVDUE_BENCH_RESULTS", str(directory))
    return directory


def bench_database_url(name: str) -> str:
    """A PostgreSQL database for one benchmark's small run (the benchmark creates it)."""
    if not POSTGRES_URL:
        pytest.skip("the benchmarks measure PostgreSQL: BREVDUE_TEST_DATABASE_URL is not set")
    url = make_url(POSTGRES_URL)
    return url.set(database=f"{url.database}_bench_{name}_w{WORKER}").render_as_string(
        hide_password=False
    )


def only_result(directory: Path, benchmark: str) -> dict[str, object]:
    """The one result file a run wrote, checked for the fields every result file has."""
    files = sorted(directory.glob(f"{benchmark}-*.json"))
    assert len(files) == 1, files
    document: dict[str, object] = json.loads(files[0].read_text())
    assert document["benchmark"] == benchmark
    for key in ("configuration", "started_at", "finished_at", "commit", "machine", "settings"):
        assert document[key], key
    headline = document["headline"]
    assert isinstance(headline, dict) and headline
    assert all(isinstance(v, int | float) or v is None for v in headline.values()), headline
    return document
