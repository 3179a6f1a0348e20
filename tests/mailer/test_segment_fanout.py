"""A campaign to lists and saved segments: the mailer evaluates the segments at fan-out, mails
each member once, never a bounced one, and evaluates them again when it sends."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from services.campaigns.admin import seed_demo
from services.mailer import campaign_delivery, fanout
from services.mailer.runtime import MailerRuntime
from shared.db import create_engine
from shared.links import read_unsubscribe
from shared.queues import DELIVER_BATCH
from shared.schema import (
    campaign_lists,
    campaign_segments,
    campaigns,
    mailing_lists,
    segments,
    subscribers,
)
from shared.settings import Settings
from shared.tokens import TokenSigner
from tests.mailer.seed import ledger
from tests.mailer.support import FAST, BatchCollector
from tests.support.segment_population import build_population
from tests.support.smtp import RecordingSMTPServer


def _rules(field: str, op: str, value: object) -> dict[str, object]:
    condition = {"type": "condition", "field": field, "op": op, "value": value}
    return {"type": "group", "match": "all", "rules": [condition]}


async def test_fan_out_mails_the_lists_and_the_segments_members_once(
    settings: Settings, smtp_server: RecordingSMTPServer
) -> None:
    await seed_demo(settings)
    engine = create_engine(settings.database_url)
    now = datetime.now(UTC)
    try:
        ids = await build_population(engine)
        async with engine.begin() as conn:
            campaign_id = (
                await conn.execute(
                    sa.insert(campaigns)
                    .values(
                        subject="Nyt",
                        body="<p>Hej {{ subscriber.name }}</p>",
                        status="sending",
                        created_at=now,
                        updated_at=now,
                        send_requested_at=now,
                    )
                    .returning(campaigns.c.id)
                )
            ).scalar_one()
            children = await conn.scalar(
                sa.select(mailing_lists.c.id).where(mailing_lists.c.slug == "boern-unge")
            )
            await conn.execute(
                sa.insert(campaign_lists).values(campaign_id=campaign_id, list_id=children)
            )
            for name, rules in (
                ("Skåne", _rules("country", "any_of", ["SE"])),  # b, d (f bounced)
                # the last campaign before this one is number 3, where a clicked
                ("Engaged", _rules("clicked", "in_last_campaigns", 1)),
            ):
                segment_id = (
                    await conn.execute(
                        sa.insert(segments)
                        .values(
                            name=name,
                            rules=rules,
                            created_by="system",
                            created_at=now,
                            updated_by="system",
                            updated_at=now,
                        )
                        .returning(segments.c.id)
                    )
                ).scalar_one()
                await conn.execute(
                    sa.insert(campaign_segments).values(
                        campaign_id=campaign_id, segment_id=segment_id
                    )
                )

        runtime = MailerRuntime.start(settings, FAST)
        jobs = BatchCollector()
        try:
            # d is on the campaign's list and in a segment: one row.
            assert await fanout.start_campaign(runtime, jobs, campaign_id) == 3
            rows = await ledger(settings.database_url, campaign_id)
            assert sorted(rows) == sorted(ids[letter] for letter in "abd")
            # b moves out of Skåne before the mail goes: no longer in the audience.
            async with engine.begin() as conn:
                await conn.execute(
                    sa.update(subscribers)
                    .where(subscribers.c.id == ids["b"])
                    .values(municipality="dk-koebenhavn")
                )
            for _name, args, _job_id in jobs.jobs:
                await campaign_delivery.deliver_batch(runtime, DELIVER_BATCH.decode(args[0]))
        finally:
            await runtime.close()
    finally:
        await engine.dispose()

    received = sorted(r for m in smtp_server.messages for r in m.rcpt_tos)
    assert received == ["a@segments.test", "d@segments.test"]
    rows = await ledger(settings.database_url, campaign_id)
    assert rows[ids["b"]]["status"] == "skipped"
    # A segment's members may be on none of the campaign's lists: the one-click link leaves
    # every list rather than lists the reader is not on.
    message = smtp_server.to("a@segments.test")[0].data
    token = message.split(b"List-Unsubscribe: <", 1)[1].split(b">", 1)[0].decode().rsplit("/", 1)[1]
    assert read_unsubscribe(TokenSigner(settings.secret_keys), token).list_ids is None
