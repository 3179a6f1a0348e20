"""The municipality reference list is complete and its ids are unique and stable."""

from __future__ import annotations

from shared.municipalities import BY_ID, MUNICIPALITIES, find_municipality


def test_counts_and_unique_ids() -> None:
    assert sum(m.country == "DK" for m in MUNICIPALITIES) == 98
    assert sum(m.country == "SE" for m in MUNICIPALITIES) == 33
    assert len(BY_ID) == len(MUNICIPALITIES)
    assert all(m.id.isascii() for m in MUNICIPALITIES)


def test_lookup_by_id_and_name() -> None:
    assert find_municipality("dk-koebenhavn") == find_municipality("københavn")
    assert find_municipality("MALMÖ") is not None and find_municipality("Malmö").country == "SE"  # type: ignore[union-attr]
    assert find_municipality("Atlantis") is None
