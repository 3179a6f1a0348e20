"""Job specs: ids built from payloads and read back, payload and result contracts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from shared.contracts import (
    BatchResult,
    CancelCampaign,
    DeliverBatch,
    DeliveryProblem,
    ErasureReport,
    OutboundMail,
    RetryFailed,
    StartCampaign,
    SubscriberExport,
    SubscriberRequest,
)
from shared.job_spec import JobSpec, parse_job_id
from shared.queues import (
    BULK_QUEUE,
    CAMPAIGN_JOBS,
    CANCEL_CAMPAIGN,
    DELIVER_BATCH,
    ERASE_SUBSCRIBER,
    EXPORT_SUBSCRIBER,
    RECORD_DELIVERY_PROBLEM,
    RESUME_CAMPAIGN,
    RETRY_FAILED,
    SEND_TRANSACTIONAL,
    START_CAMPAIGN,
    SUBSCRIPTIONS_QUEUE,
    TRANSACTIONAL_QUEUE,
)

MAIL = OutboundMail(
    message_key="confirm:k3y:0a1b", category="confirm", to="a@example.dk", subject="s", text="t"
)
REQUEST = SubscriberRequest(email="a@example.dk", actor="staff:7", request_id="f00d")
PROBLEM = DeliveryProblem(
    subscriber_id=12, campaign_id=5, kind="hard_bounce", at=datetime(2026, 1, 2, tzinfo=UTC)
)
BATCH = DeliverBatch(campaign_id=5, delivery_ids=[10, 11, 12])

# Every job with a payload, what it is enqueued with, and the id the architecture documents.
CASES: list[tuple[JobSpec[Any, Any], msgspec.Struct, str | None, str]] = [
    (SEND_TRANSACTIONAL, MAIL, None, "tx:confirm:k3y:0a1b"),
    (START_CAMPAIGN, StartCampaign(campaign_id=5), None, "campaign:5:start"),
    (START_CAMPAIGN, StartCampaign(campaign_id=5), "r29634", "campaign:5:start:r29634"),
    (
        RESUME_CAMPAIGN,
        StartCampaign(campaign_id=5),
        "1700000000000",
        "campaign:5:resume:1700000000000",
    ),
    (CANCEL_CAMPAIGN, CancelCampaign(campaign_id=5), None, "campaign:5:cancel"),
    (
        RETRY_FAILED,
        RetryFailed(campaign_id=5),
        "3.1700000000000",
        "campaign:5:retry-failed:3.1700000000000",
    ),
    (EXPORT_SUBSCRIBER, REQUEST, None, "gdpr:export:f00d"),
    (ERASE_SUBSCRIBER, REQUEST, None, "gdpr:erase:f00d"),
    (RECORD_DELIVERY_PROBLEM, PROBLEM, None, "problem:hard_bounce:c5:s12"),
]


@pytest.mark.parametrize(("spec", "payload", "tag", "expected"), CASES)
def test_job_ids_are_built_as_documented_and_read_back(
    spec: JobSpec[Any, Any], payload: msgspec.Struct, tag: str | None, expected: str
) -> None:
    job_id = spec.job_id(payload, tag)
    assert job_id == expected
    parsed = spec.parse_id(job_id)
    assert parsed is not None and parsed.spec is spec and parsed.tag == tag
    assert expected == spec.id_template.format_map(parsed.fields) + (f":{tag}" if tag else "")


@pytest.mark.parametrize("tag", [None, "resume1700000000", "r29634"])
def test_batch_ids_carry_the_first_row_a_digest_and_a_tag(tag: str | None) -> None:
    job_id = DELIVER_BATCH.job_id(BATCH, tag)
    assert job_id.startswith("campaign:5:batch:10:")
    parsed = DELIVER_BATCH.parse_id(job_id)
    assert parsed is not None and parsed.tag == tag
    assert (parsed.fields["campaign_id"], parsed.fields["first"]) == ("5", "10")
    assert len(parsed.fields["digest"]) == 10


def test_batch_ids_follow_the_rows() -> None:
    same = DELIVER_BATCH.job_id(BATCH)
    assert same == DELIVER_BATCH.job_id(DeliverBatch(campaign_id=5, delivery_ids=[10, 11, 12]))
    # Another fan-out cutting a different batch at the same first row gets its own job.
    assert DELIVER_BATCH.job_id(DeliverBatch(campaign_id=5, delivery_ids=[10, 11, 12, 13])) != same


def test_tags_are_refused_or_required_as_the_spec_says() -> None:
    with pytest.raises(ValueError, match="cancel_campaign"):
        CANCEL_CAMPAIGN.job_id(CancelCampaign(campaign_id=5), "again")
    with pytest.raises(ValueError, match="resume_campaign"):
        RESUME_CAMPAIGN.job_id(StartCampaign(campaign_id=5))
    with pytest.raises(ValueError, match="without colons"):
        START_CAMPAIGN.job_id(StartCampaign(campaign_id=5), "r:1")
    # A tag the spec does not take is not one of its ids either.
    assert CANCEL_CAMPAIGN.parse_id("campaign:5:cancel:again") is None
    assert RESUME_CAMPAIGN.parse_id("campaign:5:resume") is None


def test_campaign_job_ids_name_their_campaign_and_nothing_else_does() -> None:
    ids = [spec.job_id(payload, tag) for spec, payload, tag, _ in CASES if spec in CAMPAIGN_JOBS]
    ids.append(DELIVER_BATCH.job_id(BATCH, "r1"))
    for job_id in ids:
        parsed = parse_job_id(job_id, CAMPAIGN_JOBS)
        assert parsed is not None and parsed.fields["campaign_id"] == "5", job_id
    for other in ("cron:mailer:reconcile:1700000000", "tx:campaign:5", "campaign:5", "later:x:1"):
        assert parse_job_id(other, CAMPAIGN_JOBS) is None, other


def test_every_job_has_its_queue() -> None:
    queues = {spec.name: spec.queue for spec, *_ in CASES}
    assert queues[SEND_TRANSACTIONAL.name] == TRANSACTIONAL_QUEUE
    assert {queues[spec.name] for spec in CAMPAIGN_JOBS if spec.name in queues} == {BULK_QUEUE}
    assert DELIVER_BATCH.queue == BULK_QUEUE
    for spec in (EXPORT_SUBSCRIBER, ERASE_SUBSCRIBER, RECORD_DELIVERY_PROBLEM):
        assert spec.queue == SUBSCRIPTIONS_QUEUE
    assert len({spec.name for spec, *_ in CASES} | {DELIVER_BATCH.name}) == 9


@pytest.mark.parametrize(("spec", "payload", "tag", "expected"), CASES)
def test_payloads_survive_the_trip_through_plain_builtins(
    spec: JobSpec[Any, Any], payload: msgspec.Struct, tag: str | None, expected: str
) -> None:
    wire = msgspec.msgpack.decode(msgspec.msgpack.encode(spec.encode(payload)))
    assert spec.decode(wire) == payload


@pytest.mark.parametrize(
    ("spec", "bad"),
    [
        (START_CAMPAIGN, {"campaign_id": "five"}),
        (START_CAMPAIGN, None),
        (DELIVER_BATCH, {"campaign_id": 5}),
        (RECORD_DELIVERY_PROBLEM, {"kind": "nonsense"}),
        (SEND_TRANSACTIONAL, {**SEND_TRANSACTIONAL.encode(MAIL), "category": "spam"}),
        (EXPORT_SUBSCRIBER, ["a@example.dk"]),
    ],
)
def test_payloads_that_break_the_contract_are_refused(spec: JobSpec[Any, Any], bad: Any) -> None:
    with pytest.raises(msgspec.ValidationError):
        spec.decode(bad)


def test_results_keep_the_shape_their_readers_know() -> None:
    assert DELIVER_BATCH.encode_result(BatchResult(sent=2, failed=1)) == {
        "sent": 2,
        "failed": 1,
        "skipped": 0,
    }
    export = SubscriberExport(found=True, suppressed=False, data={"email": "a@example.dk"})
    assert EXPORT_SUBSCRIBER.decode_result(EXPORT_SUBSCRIBER.encode_result(export)) == export
    with pytest.raises(msgspec.ValidationError):
        EXPORT_SUBSCRIBER.decode_result({"error": "invalid_payload"})
    # Erasure reports leave out what does not apply, as they always have.
    invalid = ErasureReport(erased=False, reason="invalid_address")
    assert ERASE_SUBSCRIBER.encode_result(invalid) == {"erased": False, "reason": "invalid_address"}
    done = ErasureReport(erased=True, suppressed=True)
    assert ERASE_SUBSCRIBER.encode_result(done) == {"erased": True, "suppressed": True}
