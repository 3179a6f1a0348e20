"""docs/benchmarks.md lists every run in bench/results, and the report reads every shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import record, report


def test_the_document_lists_every_result_file() -> None:
    assert report.main(["--check"]) == 0, "run python -m bench.report and commit the document"
    document = report.DOC.read_text()
    for path in record.DEFAULT_RESULTS.glob("*.json"):
        assert f"`{path.name}`" in document, path.name


def test_a_new_run_appears_with_its_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREVDUE_BENCH_RESULTS", str(tmp_path / "results"))
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nWritten by hand.\n")
    for value in (10.0, 30.0, 20.0):
        header = record.describe_run("example", {"size": 1})
        record.write_result(header, "one configuration", {}, {"msg/s": value})
    assert report.main(["--results", str(tmp_path / "results"), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nWritten by hand.\n")
    assert "| msg/s | 20 | 10 | 30 | 3 |" in text
    assert text.count("`example-") == 3
    assert report.main(["--results", str(tmp_path / "results"), "--doc", str(doc), "--check"]) == 0
    doc.write_text(text.replace("| msg/s | 20 |", "| msg/s | 99 |"))
    assert report.main(["--results", str(tmp_path / "results"), "--doc", str(doc), "--check"]) == 1


def test_the_summary_is_of_the_newest_code_and_every_run_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREVDUE_BENCH_RESULTS", str(tmp_path / "results"))
    for second, (commit, value) in enumerate((("old", 1.0), ("new", 40.0), ("new", 60.0))):
        header = record.describe_run("example", {})
        header["commit"] = commit
        header["started_at"] = f"2026-11-30T12:00:0{second}+00:00"
        record.write_result(header, "one configuration", {}, {"msg/s": value})
    doc = tmp_path / "benchmarks.md"
    assert report.main(["--results", str(tmp_path / "results"), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "3 runs; the summary is of the 2 runs of the newest code measured (new)." in text
    assert "| msg/s | 50 | 40 | 60 | 2 |" in text
    assert "| old |" in text
