"""Subject tests: a campaign's other subjects, its test settings and outcome, and the figures
of each subject's sample (read from the mailer's ledger and the engagement tables)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns.queries.common import rowcount
from shared.clock import aware
from shared.schema import (
    campaign_opens,
    campaign_runs,
    campaign_test_subjects,
    campaigns,
    deliveries,
    link_clicks,
)
from shared.statuses import CampaignStatus, DeliveryStatus, RunState


@dataclass(frozen=True, slots=True)
class SubjectTestRow:
    """A campaign's subject test: settings, other subjects and, once decided, the outcome."""

    campaign_id: int
    subject: str  # the campaign's own, the test's first
    others: tuple[str, ...]
    sample_percent: int
    wait_seconds: int
    metric: str
    track_opens: bool
    send_requested_at: datetime | None
    winner: int | None
    decided_at: datetime | None
    reason: str | None

    @property
    def subjects(self) -> tuple[str, ...]:
        """Every subject tried, in order: the campaign's own first."""
        return (self.subject, *self.others)


@dataclass(frozen=True, slots=True)
class SubjectFigures:
    """One subject's sample: mails sent, and how many of its recipients clicked and opened."""

    subject_variant: int
    sent: int
    clickers: int
    openers: int


async def replace_test_subjects(
    session: AsyncSession, campaign_id: int, others: Sequence[str]
) -> None:
    """Make ``others`` (positions 1, 2, ...) the campaign's other test subjects, and only those."""
    await session.execute(
        sa.delete(campaign_test_subjects).where(campaign_test_subjects.c.campaign_id == campaign_id)
    )
    if others:
        await session.execute(
            sa.insert(campaign_test_subjects),
            [
                {"campaign_id": campaign_id, "position": position, "subject": subject}
                for position, subject in enumerate(others, start=1)
            ],
        )


def _columns() -> list[sa.Column[Any]]:
    c = campaigns.c
    return [
        c.id,
        c.subject,
        c.test_sample_percent,
        c.test_wait_seconds,
        c.test_metric,
        c.track_opens,
        c.send_requested_at,
        c.test_winner,
        c.test_decided_at,
        c.test_reason,
    ]


async def subject_test_of(session: AsyncSession, campaign_id: int) -> SubjectTestRow | None:
    """The campaign's subject test, or None when it has none."""
    row = (
        (
            await session.execute(
                sa.select(*_columns()).where(
                    campaigns.c.id == campaign_id, campaigns.c.test_sample_percent.is_not(None)
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    others = await session.execute(
        sa.select(campaign_test_subjects.c.subject)
        .where(campaign_test_subjects.c.campaign_id == campaign_id)
        .order_by(campaign_test_subjects.c.position)
    )
    return _test(row, tuple(str(subject) for subject in others.scalars()))


def _test(m: RowMapping, others: tuple[str, ...]) -> SubjectTestRow:
    requested, decided = m["send_requested_at"], m["test_decided_at"]
    return SubjectTestRow(
        campaign_id=int(m["id"]),
        subject=str(m["subject"]),
        others=others,
        sample_percent=int(m["test_sample_percent"]),
        wait_seconds=int(m["test_wait_seconds"]),
        metric=str(m["test_metric"]),
        track_opens=bool(m["track_opens"]),
        send_requested_at=aware(requested) if isinstance(requested, datetime) else None,
        winner=None if m["test_winner"] is None else int(m["test_winner"]),
        decided_at=aware(decided) if isinstance(decided, datetime) else None,
        reason=None if m["test_reason"] is None else str(m["test_reason"]),
    )


async def tests_sample_sent(session: AsyncSession, limit: int = 100) -> list[SubjectTestRow]:
    """Campaigns testing whose sample the mailer has sent in full (its run is done)."""
    done = sa.exists().where(
        campaign_runs.c.campaign_id == campaigns.c.id,
        campaign_runs.c.state == RunState.DONE,
        campaign_runs.c.finished_at.is_not(None),
    )
    rows = (
        (
            await session.execute(
                sa.select(*_columns())
                .where(campaigns.c.status == CampaignStatus.TESTING, done)
                .order_by(campaigns.c.send_requested_at, campaigns.c.id)
                .limit(limit)
            )
        )
        .mappings()
        .all()
    )
    tests = []
    for row in rows:
        others = await session.execute(
            sa.select(campaign_test_subjects.c.subject)
            .where(campaign_test_subjects.c.campaign_id == row["id"])
            .order_by(campaign_test_subjects.c.position)
        )
        tests.append(_test(row, tuple(str(subject) for subject in others.scalars())))
    return tests


async def subject_figures(session: AsyncSession, campaign_id: int) -> dict[int, SubjectFigures]:
    """Each subject's sample figures, by subject (0-based); subjects nobody got are absent."""
    sample = sa.and_(
        deliveries.c.campaign_id == campaign_id, deliveries.c.subject_variant.is_not(None)
    )
    sent: dict[int, int] = dict(
        (
            await session.execute(
                sa.select(deliveries.c.subject_variant, sa.func.count())
                .where(sample, deliveries.c.status == DeliveryStatus.SENT)
                .group_by(deliveries.c.subject_variant)
            )
        ).all()
    )
    clickers = await _engaged(
        session, sample, link_clicks.c.campaign_id, link_clicks.c.subscriber_id
    )
    openers = await _engaged(
        session, sample, campaign_opens.c.campaign_id, campaign_opens.c.subscriber_id
    )
    variants = (
        await session.execute(
            sa.select(deliveries.c.subject_variant)
            .where(sample)
            .group_by(deliveries.c.subject_variant)
        )
    ).scalars()
    return {
        int(v): SubjectFigures(
            int(v), int(sent.get(v, 0)), clickers.get(int(v), 0), openers.get(int(v), 0)
        )
        for v in variants
    }


async def _engaged(
    session: AsyncSession,
    sample: sa.ColumnElement[bool],
    campaign_column: sa.Column[int],
    subscriber_column: sa.Column[int],
) -> dict[int, int]:
    """Distinct subscribers of each subject's sample with a row in an engagement table."""
    result = await session.execute(
        sa.select(deliveries.c.subject_variant, sa.func.count(sa.distinct(subscriber_column)))
        .join(
            subscriber_column.table,
            sa.and_(
                campaign_column == deliveries.c.campaign_id,
                subscriber_column == deliveries.c.subscriber_id,
            ),
        )
        .where(sample)
        .group_by(deliveries.c.subject_variant)
    )
    return {int(variant): int(count) for variant, count in result.all()}


async def mark_decided(
    session: AsyncSession, campaign_id: int, winner: int, reason: str, when: datetime
) -> bool:
    """Record the winner and move the test on to sending the rest; False when it is no longer
    testing (another replica decided, or staff cancelled it): the one gate against two
    decisions."""
    result = await session.execute(
        sa.update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status == CampaignStatus.TESTING)
        .values(
            status=CampaignStatus.SENDING,
            test_winner=winner,
            test_decided_at=when,
            test_reason=reason,
            updated_at=when,
        )
    )
    return rowcount(result) == 1


async def unmark_decided(session: AsyncSession, campaign_id: int, when: datetime) -> None:
    """Undo ``mark_decided`` of this call (matched by its time) when its job was not queued:
    the test waits for the next poll."""
    await session.execute(
        sa.update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.status == CampaignStatus.SENDING,
            campaigns.c.test_decided_at == when,
        )
        .values(
            status=CampaignStatus.TESTING,
            test_winner=None,
            test_decided_at=None,
            test_reason=None,
        )
    )
