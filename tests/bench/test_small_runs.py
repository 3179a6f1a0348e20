"""Each benchmark at a small size: it runs and writes a well-formed result (never timings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import imports, render, segments
from tests.bench.conftest import bench_database_url, only_result


def test_render_benchmark_writes_a_result(results_dir: Path) -> None:
    render.main(["--messages", "20", "--rounds", "2"])
    document = only_result(results_dir, "render")
    assert len(document["figures"]["us_per_message"]) == 2  # type: ignore[index]


def test_segments_benchmark_builds_and_counts(results_dir: Path) -> None:
    segments.main(
        ["--subscribers", "2000", "--runs", "2", "--database-url", bench_database_url("segments")]
    )
    document = only_result(results_dir, "segments")
    counted = document["figures"]["segments"]  # type: ignore[index]
    assert counted["everyone eligible"]["count"] > 0
    assert set(counted) - {"reference: count(*) of confirmed subscriptions"} == set(
        segments.SEGMENTS
    )


def test_imports_benchmark_imports_every_valid_row(results_dir: Path) -> None:
    imports.main(
        ["--rows", "300", "--rounds", "1", "--database-url", bench_database_url("imports")]
    )
    document = only_result(results_dir, "imports")
    counts = document["figures"]["counts"]  # type: ignore[index]
    assert counts == {"added": 297, "invalid": 3, "lines": 301}


def test_the_runner_runs_a_benchmark_without_touching_bench_results(
    results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import record
    from bench.__main__ import main

    before = set(record.DEFAULT_RESULTS.iterdir())
    assert main(["--size", "small", "--only", "render"]) == 0
    assert "1 of 1 runs finished" in capsys.readouterr().out
    assert set(record.DEFAULT_RESULTS.iterdir()) == before
