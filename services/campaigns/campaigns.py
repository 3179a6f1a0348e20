"""Campaigns: drafts staff write and validate, listed and handed to the mailer to send (the
preview is in preview.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args

import structlog
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import queries
from services.campaigns.content import DEFAULT_ORGANISATION, LAYOUTS
from services.campaigns.drafts import (
    LISTS_MAX,
    Draft,
    Prepared,
    VariantDraft,
    check_draft,
    must_be_valid,
    prepare_draft,
)
from services.campaigns.errors import N_, Conflict, InvalidInput, NotFound, Unavailable
from services.campaigns.render_pool import RenderPool
from services.campaigns.schedule_times import local_time
from services.campaigns.schemas import (
    BodyFormatName,
    CampaignCreate,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    CampaignSummary,
    Counts,
    LayoutName,
    SubjectTestIn,
    VariantIn,
)
from services.campaigns.subject_tests import (
    stored_test_in,
    subject_test_out,
    subject_test_problems,
    subject_test_values,
)
from shared.clock import utcnow
from shared.contracts import StartCampaign
from shared.errors import QueueUnavailable
from shared.jobs import JobQueue, enqueue
from shared.languages import LANGUAGES, Language
from shared.queues import START_CAMPAIGN
from shared.statuses import CampaignStatus, DeliveryStatus, RunState
from shared.subject_tests import SUBJECTS_MAX

log = structlog.get_logger(__name__)


async def create_campaign(
    session: AsyncSession, renderer: RenderPool, data: CampaignCreate
) -> CampaignOut:
    """Store a new draft after its templates compile and render with sample data."""
    draft = Draft(
        subject=data.subject,
        body=data.body,
        body_text=data.body_text,
        from_address=data.from_address,
        lists=_unique(data.lists),
        segments=tuple(dict.fromkeys(data.segments)),
        body_format=data.body_format,
        layout=data.layout,
        fallback_language=data.fallback_language,
        variants=_variant_drafts(data.variants),
        test_subjects=_test_subjects(data.subject_test),
    )
    test_problems = subject_test_problems(
        data.subject_test,
        subject=data.subject,
        track_opens=data.track_opens,
        has_variants=bool(draft.variants),
    )
    list_ids, prepared = await _validated(session, renderer, draft, test_problems)
    values = {
        **_values(draft, prepared),
        **subject_test_values(data.subject_test),
        "track_opens": data.track_opens,
        "archive_public": data.archive_public,
    }
    campaign_id = await queries.insert_campaign(session, values, list_ids)
    await queries.set_campaign_segments(session, campaign_id, draft.segments)
    await queries.replace_variants(session, campaign_id, _variant_rows(draft, prepared))
    await queries.replace_test_subjects(session, campaign_id, draft.test_subjects)
    await session.commit()
    return await get_campaign(session, campaign_id)


async def update_campaign(
    session: AsyncSession, renderer: RenderPool, campaign_id: int, patch: CampaignPatch
) -> CampaignOut:
    """Change the given fields of a draft; a campaign that is no longer a draft is 409."""
    row = await campaign_row(session, campaign_id)
    _require_draft(row, "changed")
    slugs = (await queries.list_slugs_of(session, [campaign_id]))[campaign_id]
    segments = (await queries.segments_of(session, [campaign_id]))[campaign_id]
    written = _written(row)
    variants = (
        tuple(
            VariantDraft(item.language, item.subject, item.body_source or item.body, item.body_text)
            for item in await queries.variants_of(session, campaign_id)
        )
        if patch.variants is UNSET
        else _variant_drafts(patch.variants)
    )
    test = (
        stored_test_in(await queries.subject_test_of(session, campaign_id))
        if patch.subject_test is UNSET
        else patch.subject_test
    )
    draft = Draft(
        subject=written.subject if patch.subject is UNSET else patch.subject,
        body=written.body if patch.body is UNSET else patch.body,
        body_text=written.body_text if patch.body_text is UNSET else patch.body_text,
        from_address=row.from_address if patch.from_address is UNSET else patch.from_address,
        lists=slugs if patch.lists is UNSET else _unique(patch.lists),
        segments=tuple(segments if patch.segments is UNSET else dict.fromkeys(patch.segments)),
        body_format=written.body_format if patch.body_format is UNSET else patch.body_format,
        layout=written.layout if patch.layout is UNSET else patch.layout,
        fallback_language=(
            written.fallback_language
            if patch.fallback_language is UNSET
            else patch.fallback_language
        ),
        variants=variants,
        test_subjects=_test_subjects(test),
    )
    test_problems = subject_test_problems(
        test,
        subject=draft.subject,
        track_opens=row.track_opens if patch.track_opens is UNSET else patch.track_opens,
        has_variants=bool(draft.variants),
    )
    list_ids, prepared = await _validated(session, renderer, draft, test_problems)
    new_lists = None if patch.lists is UNSET else list_ids
    values = {**_values(draft, prepared), **subject_test_values(test)}
    if patch.track_opens is not UNSET:
        values["track_opens"] = patch.track_opens
    if patch.archive_public is not UNSET:
        values["archive_public"] = patch.archive_public
    if not await queries.update_draft(session, campaign_id, values, new_lists):
        # It left the draft state (was sent) while we were validating.
        await session.rollback()
        _require_draft(await campaign_row(session, campaign_id), "changed")
    if patch.segments is not UNSET:
        await queries.set_campaign_segments(session, campaign_id, draft.segments)
    await queries.replace_variants(session, campaign_id, _variant_rows(draft, prepared))
    await queries.replace_test_subjects(session, campaign_id, draft.test_subjects)
    await session.commit()
    return await get_campaign(session, campaign_id)


def _test_subjects(test: SubjectTestIn | None) -> tuple[str, ...]:
    # Too many is refused anyway (subject_tests): no render-pool time for a thousand of them.
    if test is None or len(test.other_subjects) > SUBJECTS_MAX - 1:
        return ()
    return tuple(test.other_subjects)


def _written(row: queries.CampaignRow) -> Draft:
    """The campaign's own text as staff wrote it (the source, for a compiled body)."""
    return Draft(
        subject=row.subject,
        body=row.body_source if row.body_format and row.body_source is not None else row.body,
        body_text=row.body_text,
        from_address=row.from_address,
        lists=[],
        body_format=row.body_format,
        layout=row.layout,
        fallback_language=row.fallback_language,
    )


async def stored_draft(session: AsyncSession, row: queries.CampaignRow) -> Draft:
    """The campaign as the mailer sends it: its compiled bodies and its variants'."""
    slugs = (await queries.list_slugs_of(session, [row.id]))[row.id]
    segments = (await queries.segments_of(session, [row.id]))[row.id]
    test = await queries.subject_test_of(session, row.id)
    return Draft(
        subject=row.subject,
        body=row.body,
        body_text=row.body_text,
        from_address=row.from_address,
        lists=slugs,
        segments=tuple(segments),
        layout=row.layout,
        fallback_language=row.fallback_language,
        variants=tuple(
            VariantDraft(item.language, item.subject, item.body, item.body_text)
            for item in await queries.variants_of(session, row.id)
        ),
        test_subjects=test.others if test is not None else (),
    )


def _variant_drafts(variants: list[VariantIn]) -> tuple[VariantDraft, ...]:
    return tuple(
        VariantDraft(item.language, item.subject, item.body, item.body_text) for item in variants
    )


def _variant_rows(draft: Draft, prepared: Prepared) -> list[queries.VariantRow]:
    compiled = draft.body_format is not None
    return [
        queries.VariantRow(
            language=variant.language,
            subject=variant.subject,
            body=prepared.variant_bodies[variant.language],
            body_source=variant.body if compiled else None,
            body_text=variant.body_text,
        )
        for variant in draft.variants
    ]


async def send_campaign(
    session: AsyncSession, renderer: RenderPool, jobs: JobQueue, campaign_id: int
) -> CampaignOut:
    """Mark a draft as sending and enqueue its fan-out job, exactly once.

    A campaign without lists or whose templates no longer render is refused (422) first.
    """
    row = await campaign_row(session, campaign_id)
    _require_draft(row, "sent")
    await check_sendable(session, renderer, row)
    if not await start_sending(session, jobs, campaign_id, CampaignStatus.DRAFT):
        _require_draft(await campaign_row(session, campaign_id), "sent")
    return await get_campaign(session, campaign_id)


async def start_sending(
    session: AsyncSession, jobs: JobQueue, campaign_id: int, from_status: CampaignStatus
) -> bool:
    """Move the campaign from ``from_status`` to sending and enqueue its fan-out job.

    False when the campaign was not in that state (or, scheduled, not yet due): another
    request or scheduler replica got there first. The one path for "send now" and the
    scheduler.
    """
    _check_id(campaign_id)
    when = utcnow()
    # The conditional UPDATE is the single gate: of two concurrent starts only one flips the row.
    if not await queries.mark_sending(session, campaign_id, when, from_status):
        await session.rollback()
        return False
    await session.commit()
    try:
        await enqueue(jobs, START_CAMPAIGN, StartCampaign(campaign_id=campaign_id))
    except QueueUnavailable as exc:
        # Without its job the campaign would sit in "sending" forever: put it back where it
        # was (a scheduled one stays due, so the scheduler tries again).
        await queries.unmark_sending(session, campaign_id, when, back_to=from_status)
        await session.commit()
        log.warning("campaign.enqueue_failed", campaign_id=campaign_id, error=repr(exc))
        still = "a draft" if from_status == CampaignStatus.DRAFT else from_status
        raise Unavailable(
            f"the job queue cannot be reached; the campaign is still {still}"
        ) from exc
    log.info("campaign.send_requested", campaign_id=campaign_id, was=from_status)
    return True


async def check_sendable(
    session: AsyncSession, renderer: RenderPool, row: queries.CampaignRow
) -> None:
    """Refuse (422) a campaign that names no list or segment, or whose templates no longer
    render."""
    draft = await stored_draft(session, row)
    problems = await renderer.run("body", check_draft, draft)
    if problems:
        raise InvalidInput(N_("the campaign cannot be sent as it is"), problems)


async def get_campaign(session: AsyncSession, campaign_id: int) -> CampaignOut:
    """One campaign with its lists, status and delivery counts."""
    row = await campaign_row(session, campaign_id)
    slugs, counts, runs = await _related(session, [campaign_id])
    run = runs.get(campaign_id)
    segments = await queries.segments_of(session, [campaign_id])
    written = _written(row)
    variants = await queries.variants_of(session, campaign_id)
    return CampaignOut(
        id=campaign_id,
        subject=row.subject,
        body=written.body,
        body_text=row.body_text,
        from_address=row.from_address,
        lists=slugs[campaign_id],
        segments=segments[campaign_id],
        status=effective_status(row, run),
        created_at=row.created_at,
        updated_at=row.updated_at,
        send_requested_at=row.send_requested_at,
        counts=_counts(counts[campaign_id], run),
        failure=run.failure if run is not None else None,
        pause_reason=row.pause_reason,
        scheduled_at=row.scheduled_at,
        schedule_zone=row.schedule_zone,
        scheduled_local=local_time(row.scheduled_at, row.schedule_zone),
        body_format=_format_name(row.body_format),
        layout=_layout_name(row.layout),
        compiled_body=row.body if row.body_format else None,
        fallback_language=_language(row.fallback_language),
        variants=[
            VariantIn(
                language=_language(item.language) or "da",
                subject=item.subject,
                body=item.body_source or item.body,
                body_text=item.body_text,
            )
            for item in variants
        ],
        track_opens=row.track_opens,
        archive_public=row.archive_public,
        subject_test=await subject_test_out(session, campaign_id),
    )


async def list_campaigns(
    session: AsyncSession, page: int, per_page: int, status: CampaignStatus | None = None
) -> CampaignPage:
    """One page of campaigns, newest first; only those with ``status`` when it is given."""
    rows = await queries.campaign_page(session, per_page, (page - 1) * per_page, status)
    ids = [row.id for row in rows]
    slugs, counts, runs = await _related(session, ids)
    segments = await queries.segments_of(session, ids)
    items = [
        CampaignSummary(
            id=row.id,
            subject=row.subject,
            lists=slugs[row.id],
            segments=segments[row.id],
            status=effective_status(row, runs.get(row.id)),
            created_at=row.created_at,
            updated_at=row.updated_at,
            send_requested_at=row.send_requested_at,
            counts=_counts(counts[row.id], runs.get(row.id)),
            scheduled_at=row.scheduled_at,
            schedule_zone=row.schedule_zone,
        )
        for row in rows
    ]
    total = await queries.count_campaigns(session, status)
    return CampaignPage(items=items, page=page, per_page=per_page, total=total)


async def _validated(
    session: AsyncSession,
    renderer: RenderPool,
    draft: Draft,
    more_problems: Mapping[str, str] | None = None,
) -> tuple[list[int], Prepared]:
    # Templates are tried, and bodies compiled, in a worker process: a costly one cannot
    # stall this service.
    organisation = await queries.organisation(session) or DEFAULT_ORGANISATION
    prepared = await renderer.run("body", prepare_draft, draft, organisation)
    problems = {**prepared.problems, **(more_problems or {})}
    ids: dict[str, int] = {}
    if "lists" not in problems:
        ids = await queries.list_ids_by_slug(session, draft.lists)
        unknown = [slug for slug in draft.lists if slug not in ids]
        if unknown:
            problems["lists"] = "unknown list: " + ", ".join(unknown)
    if len(draft.segments) > LISTS_MAX:
        problems["segments"] = f"must name at most {LISTS_MAX} segments"
    elif draft.segments:
        known = await queries.segment_ids_by_id(session, draft.segments)
        missing = [str(s) for s in draft.segments if s not in known]
        if missing:
            problems["segments"] = "unknown segment: " + ", ".join(missing)
    must_be_valid(problems)
    return [ids[slug] for slug in draft.lists], prepared


async def campaign_row(session: AsyncSession, campaign_id: int) -> queries.CampaignRow:
    """The campaign's row; NotFound when there is none."""
    _check_id(campaign_id)
    row = await queries.campaign_by_id(session, campaign_id)
    if row is None:
        raise NotFound("campaign", campaign_id)
    return row


async def _related(
    session: AsyncSession, ids: Sequence[int]
) -> tuple[dict[int, list[str]], dict[int, dict[str, int]], dict[int, queries.RunRow]]:
    if not ids:
        return {}, {}, {}
    slugs = await queries.list_slugs_of(session, ids)
    counts = await queries.delivery_counts(session, ids)
    runs = await queries.campaign_run_rows(session, ids)
    return slugs, counts, runs


def _check_id(campaign_id: int) -> None:
    # Out-of-range ids would overflow the driver's integer type instead of finding nothing.
    if not 0 < campaign_id <= queries.MAX_ID:
        raise NotFound("campaign", campaign_id)


def _require_draft(row: queries.CampaignRow, action: str) -> None:
    if row.status != CampaignStatus.DRAFT:
        status = row.status
        raise Conflict(
            f"campaign {row.id} is {status}; only a draft can be {action}", {"status": status}
        )


def effective_status(row: queries.CampaignRow, run: queries.RunRow | None) -> CampaignStatus:
    """The status staff see: the campaign's own, completed by the mailer's run."""
    status = CampaignStatus(row.status)
    if status in (CampaignStatus.SENDING, CampaignStatus.TESTING) and run is not None:
        if run.state == RunState.FAILED:
            # The mailer could not start it; CampaignOut.failure says why.
            return CampaignStatus.FAILED
        if run.finished_at is None:
            return status
        if status == CampaignStatus.TESTING:
            return CampaignStatus.WAITING  # the sample is sent; the winner is not picked yet
        if row.test_decided_at is not None and run.started_at < row.test_decided_at:
            # The run done is the test's sample: the mailer has not begun the rest yet (the
            # rest's run starts at the decision's time, see the mailer's reopen_for_rest).
            return status
        return CampaignStatus.SENT
    return status


def _counts(by_status: Mapping[str, int], run: queries.RunRow | None) -> Counts:
    return Counts(
        recipients=run.recipients if run is not None else 0,
        sent=by_status.get(DeliveryStatus.SENT, 0),
        failed=by_status.get(DeliveryStatus.FAILED, 0),
        queued=by_status.get(DeliveryStatus.QUEUED, 0),
    )


def _values(draft: Draft, prepared: Prepared) -> dict[str, Any]:
    compiled = draft.body_format is not None
    return {
        "subject": draft.subject,
        "body": prepared.body,
        "body_source": draft.body if compiled else None,
        "body_format": draft.body_format,
        "layout": (draft.layout or LAYOUTS[0]) if compiled else None,
        "body_text": draft.body_text,
        "from_address": draft.from_address,
        "fallback_language": draft.fallback_language if draft.variants else None,
    }


def _format_name(value: str | None) -> BodyFormatName | None:
    return "markdown" if value == "markdown" else "html" if value == "html" else None


def _layout_name(value: str | None) -> LayoutName | None:
    return next((name for name in get_args(LayoutName) if name == value), None)


def _language(value: str | None) -> Language | None:
    return next((code for code in LANGUAGES if code == value), None)


def _unique(slugs: list[str]) -> list[str]:
    return list(dict.fromkeys(slugs))
