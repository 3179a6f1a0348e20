"""Subject tests: 2-4 subjects go to a sample of the audience; after a wait the subject whose
recipients clicked (or opened) most goes to the rest.

The campaign is "testing" while the mailer sends its sample (whom, and which subject each
gets, ``shared.subject_tests`` decides); "waiting" for the winner once the sample is sent and
the wait not over. The scheduler of every replica then picks the winner here: one
conditional UPDATE from testing to sending records it, so of replicas polling at once exactly
one decides, then a start job has the mailer fan out the rest with the winning subject.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.errors import N_
from services.campaigns.schemas import SubjectFiguresOut, SubjectTestIn, SubjectTestOut
from shared.contracts import StartCampaign
from shared.errors import QueueUnavailable
from shared.jobs import JobQueue, enqueue
from shared.queues import START_CAMPAIGN
from shared.subject_tests import (
    SAMPLE_PERCENT_MAX,
    SAMPLE_PERCENT_MIN,
    SUBJECTS_MAX,
    SUBJECTS_MIN,
    WAIT_SECONDS_MAX,
    WAIT_SECONDS_MIN,
)

log = structlog.get_logger(__name__)

# Why a subject won (campaigns.test_reason).
BEST_RATE, TIE, NO_ENGAGEMENT = "best_rate", "tie", "no_engagement"


def subject_test_problems(
    test: SubjectTestIn | None, *, subject: str, track_opens: bool, has_variants: bool
) -> dict[str, str]:
    """What is wrong with a subject test's settings (its subjects' templates are checked with
    the draft's); empty when all is well or there is no test."""
    if test is None:
        return {}
    problems: dict[str, str] = {}
    # The problems name the limits of shared.subject_tests in words, for translation.
    others = test.other_subjects
    if not SUBJECTS_MIN - 1 <= len(others) <= SUBJECTS_MAX - 1:
        problems["subject_test.other_subjects"] = N_(
            "give one to three subjects beside the campaign's own"
        )
    elif len({subject, *others}) != len(others) + 1:
        problems["subject_test.other_subjects"] = N_("every subject tested must differ")
    if not SAMPLE_PERCENT_MIN <= test.sample_percent <= SAMPLE_PERCENT_MAX:
        problems["subject_test.sample_percent"] = N_("must be 1 to 90 (percent of the audience)")
    if not WAIT_SECONDS_MIN <= test.wait_seconds <= WAIT_SECONDS_MAX:
        problems["subject_test.wait_seconds"] = N_("must be more than nothing and at most a week")
    if test.metric == "opens" and not track_opens:
        problems["subject_test.metric"] = N_("opens can decide only with open tracking on")
    if has_variants:
        # Each language's readers would need a sample of their own for their own subjects.
        problems["subject_test"] = N_("a subject test cannot be combined with language variants")
    return problems


def subject_test_values(test: SubjectTestIn | None) -> dict[str, Any]:
    """The campaign columns that hold a test's settings (all None: no test)."""
    return {
        "test_sample_percent": test.sample_percent if test else None,
        "test_wait_seconds": test.wait_seconds if test else None,
        "test_metric": test.metric if test else None,
    }


def stored_test_in(row: queries.SubjectTestRow | None) -> SubjectTestIn | None:
    """A stored test as the API takes it (to check it again when other fields change)."""
    if row is None:
        return None
    return SubjectTestIn(
        other_subjects=list(row.others),
        sample_percent=row.sample_percent,
        wait_seconds=row.wait_seconds,
        metric="opens" if row.metric == "opens" else "clicks",
    )


def pick_winner(
    figures: Mapping[int, queries.SubjectFigures], subjects: int, metric: str
) -> tuple[int, str]:
    """The winning subject and why: the highest share of recipients who clicked (or opened);
    of equal shares the earliest subject, the campaign's own when nobody engaged."""
    rates = [_rate(figures.get(index), metric) for index in range(subjects)]
    best = max(rates)
    winner = rates.index(best)
    if best == 0:
        return winner, NO_ENGAGEMENT
    return winner, TIE if rates.count(best) > 1 else BEST_RATE


def _rate(figures: queries.SubjectFigures | None, metric: str) -> float:
    if figures is None or figures.sent == 0:
        return 0.0
    engaged = figures.openers if metric == "opens" else figures.clickers
    return engaged / figures.sent


async def decide_due(session: AsyncSession, jobs: JobQueue, now: datetime) -> list[int]:
    """Pick the winner of every test whose sample is sent and whose wait is over, and have
    the mailer send the rest; the ids this caller decided."""
    decided: list[int] = []
    for test in await queries.tests_sample_sent(session):
        due = decide_after(test)
        if due is None or due > now:
            continue
        figures = await queries.subject_figures(session, test.campaign_id)
        winner, reason = pick_winner(figures, len(test.subjects), test.metric)
        await session.rollback()  # each decision is its own transaction
        if await _decide(session, jobs, test.campaign_id, winner=winner, reason=reason, now=now):
            decided.append(test.campaign_id)
    return decided


async def _decide(
    session: AsyncSession,
    jobs: JobQueue,
    campaign_id: int,
    *,
    winner: int,
    reason: str,
    now: datetime,
) -> bool:
    if not await queries.mark_decided(session, campaign_id, winner, reason, now):
        await session.rollback()
        return False
    await session.commit()
    try:
        # Tagged: the sample's start job has the plain id, and arq may still keep its result.
        await enqueue(jobs, START_CAMPAIGN, StartCampaign(campaign_id=campaign_id), tag="rest")
    except QueueUnavailable as exc:
        # Without its job the rest would never be sent: undecided again, tried at the next poll.
        await queries.unmark_decided(session, campaign_id, now)
        await session.commit()
        log.warning("subject_test.enqueue_failed", campaign_id=campaign_id, error=repr(exc))
        return False
    log.info("subject_test.decided", campaign_id=campaign_id, winner=winner, reason=reason)
    return True


def decide_after(test: queries.SubjectTestRow) -> datetime | None:
    """When the wait of a started test is over (the sample must also be sent by then)."""
    if test.send_requested_at is None:
        return None
    return test.send_requested_at + timedelta(seconds=test.wait_seconds)


async def subject_test_out(session: AsyncSession, campaign_id: int) -> SubjectTestOut | None:
    """The campaign's subject test with each subject's figures so far, or None."""
    test = await queries.subject_test_of(session, campaign_id)
    if test is None:
        return None
    subjects = test.subjects
    figures = await queries.subject_figures(session, campaign_id)
    rows = [_figures_out(subject, figures.get(index)) for index, subject in enumerate(subjects)]
    return SubjectTestOut(
        subjects=list(subjects),
        sample_percent=test.sample_percent,
        wait_seconds=test.wait_seconds,
        metric="opens" if test.metric == "opens" else "clicks",
        figures=rows,
        decide_after=decide_after(test),
        winner=test.winner,
        decided_at=test.decided_at,
        reason=test.reason,
        explanation=explanation(test, rows),
    )


def _figures_out(subject: str, figures: queries.SubjectFigures | None) -> SubjectFiguresOut:
    sent = figures.sent if figures else 0
    clicks = figures.clickers if figures else 0
    opens = figures.openers if figures else 0
    return SubjectFiguresOut(
        subject=subject,
        sent=sent,
        clicks=clicks,
        click_rate=round(clicks / sent, 4) if sent else 0.0,
        opens=opens,
        open_rate=round(opens / sent, 4) if sent else 0.0,
    )


def explanation(test: queries.SubjectTestRow, figures: Sequence[SubjectFiguresOut]) -> str | None:
    """Why the winner won, in words (None until it is picked)."""
    if test.winner is None or not 0 <= test.winner < len(figures):
        return None
    won = figures[test.winner]
    what = "opened" if test.metric == "opens" else "clicked"
    rate = won.open_rate if test.metric == "opens" else won.click_rate
    letter = chr(ord("A") + test.winner)
    if test.reason == NO_ENGAGEMENT:
        return f"Nobody in the sample {what}; subject A, the campaign's own, went to the rest."
    share = f"{rate:.1%} of its {won.sent} recipients {what}"
    if test.reason == TIE:
        return f"Subject {letter} won a tie ({share}, as many as another): the earlier one wins."
    return f"Subject {letter} won: {share}, more than with any other subject."
