"""API shapes of saved segments (``/api/segments``); the rules are shared.segments.Group."""

from __future__ import annotations

from datetime import datetime

import msgspec
from msgspec import UNSET, Struct, UnsetType

from shared.segments import Group


class SegmentCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/segments``: a name and the rules."""

    name: str
    rules: Group = msgspec.field(default_factory=Group)


class SegmentPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/segments/{id}``: a new name, new rules or both."""

    name: str | UnsetType = UNSET
    rules: Group | UnsetType = UNSET


class CountRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/segments/count``: rules that need not be saved."""

    rules: Group


class SegmentCount(Struct, kw_only=True):
    """How many residents the rules reach now, and the lowest of their subscriber ids.

    Ids, never addresses or names: staff open a subscriber's page to see who that is.
    """

    count: int
    sample: list[int]


class SegmentOut(Struct, kw_only=True):
    """A saved segment with its current member count."""

    id: int
    name: str
    rules: Group
    count: int
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


class SegmentsOut(Struct, kw_only=True):
    """``GET /api/segments``: every saved segment by name."""

    items: list[SegmentOut]
