"""The database schema. Every table names the one service that writes it; others only read.

The services share one database (SQLite by default, PostgreSQL at scale) and one migration
history, but each table has exactly one owner, listed in docs/architecture.md.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine.default import DefaultExecutionContext

from shared.addresses import address_identity

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _ts(name: str, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


# --- owned by the campaigns service -------------------------------------------------------

mailing_lists = Table(
    "mailing_lists",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name_da", String(200), nullable=False),
    Column("name_sv", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("description_da", Text, nullable=False, default=""),
    Column("description_sv", Text, nullable=False, default=""),
    Column("description_en", Text, nullable=False, default=""),
    Column("is_public", Boolean, nullable=False, default=True),
    Column("double_optin", Boolean, nullable=False, default=True),
    _ts("created_at", nullable=False),
    # Optional welcome mail after confirmation, per language (plain text; the body is a
    # sandboxed Jinja2 template with subscriber.name and list.name). Edited by campaigns,
    # read by subscriptions.
    Column("welcome_subject_da", String(998), nullable=True),
    Column("welcome_subject_sv", String(998), nullable=True),
    Column("welcome_subject_en", String(998), nullable=True),
    Column("welcome_body_da", Text, nullable=True),
    Column("welcome_body_sv", Text, nullable=True),
    Column("welcome_body_en", Text, nullable=True),
    # A youth list (children and young people): its sign-up asks the year of birth, and a
    # resident under the age of digital consent needs a guardian's confirmation. Minors may
    # give only the custom fields whose keys are in ``youth_fields`` (None: none at all).
    Column("youth", Boolean, nullable=False, server_default=false()),
    Column("youth_fields", JSON, nullable=True),
    comment="owner: campaigns",
)

member_sites = Table(
    "member_sites",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("municipality", String(100), nullable=True),
    Column("country", String(2), nullable=False),
    Column("allowed_origins", JSON, nullable=False, default=list),
    Column("default_lists", JSON, nullable=False, default=list),
    Column("default_language", String(2), nullable=False, default="da"),
    Column("thank_you_url", String(2000), nullable=True),
    _ts("created_at", nullable=False),
    # The public side asks for an ALTCHA proof of work before accepting this site's sign-ups.
    Column("require_proof_of_work", Boolean, nullable=False, default=False, server_default=false()),
    # The sign-up form offers the optional municipality field (shared/municipalities.py ids).
    Column("asks_municipality", Boolean, nullable=False, server_default=false()),
    comment="owner: campaigns",
)

# Staff-defined subscriber fields; the definition format is shared/custom_fields.py.
custom_fields = Table(
    "custom_fields",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(40), nullable=False, unique=True),
    Column("label_da", String(200), nullable=False),
    Column("label_sv", String(200), nullable=False),
    Column("label_en", String(200), nullable=False),
    Column("type", String(16), nullable=False),
    Column("choices", JSON, nullable=False, default=list),
    Column("required", Boolean, nullable=False, default=False),
    Column("public", Boolean, nullable=False, default=False),
    Column("max_length", Integer, nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    comment="owner: campaigns",
)

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("role", String(16), nullable=False),
    _ts("created_at", nullable=False),
    # argon2id hash (argon2-cffi's encoded form); NULL until a password is set.
    Column("password_hash", String(255), nullable=True),
    Column("active", Boolean, nullable=False, server_default=true()),
    # Set for one-time passwords (the demo admin, operator resets): change at next login.
    Column("must_change_password", Boolean, nullable=False, server_default=false()),
    _ts("last_login_at"),
    # The staff app's language for this user (da, sv, en); NULL follows the browser.
    Column("language", String(5), nullable=True),
    comment="owner: campaigns",
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("label", String(200), nullable=False, default=""),
    Column("staff_user_id", Id, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=True),
    _ts("created_at", nullable=False),
    _ts("revoked_at"),
    _ts("last_used_at"),
    comment="owner: campaigns",
)

staff_audit = Table(
    "staff_audit",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _ts("at", nullable=False),
    # "user:<id>" for a session, "token:<id>" for an API token, "system" for the CLI.
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    # "<kind>:<id>", e.g. "campaign:12"; empty when the action has no object.
    Column("object", String(128), nullable=False, server_default=""),
    # Never residents' personal data: ids and staff-chosen names only.
    Column("details", JSON, nullable=False),
    Index("ix_staff_audit_at", "at"),
    Index("ix_staff_audit_actor", "actor"),
    comment="owner: campaigns",
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subject", String(998), nullable=False),
    Column("body", Text, nullable=False),
    Column("body_text", Text, nullable=True),
    Column("from_address", String(320), nullable=True),
    Column("status", String(16), nullable=False, default="draft"),
    # Why a campaign is paused when the mailer paused it (too many failures); staff pauses
    # leave it empty. Cleared on resume.
    Column("pause_reason", Text, nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("send_requested_at"),
    # When a scheduled campaign starts (UTC), and the IANA zone staff chose the time in.
    _ts("scheduled_at"),
    Column("schedule_zone", String(64), nullable=True),
    # Open tracking (a pixel) is off unless staff switch it on for the campaign.
    Column("track_opens", Boolean, nullable=False, server_default=false()),
    # How staff wrote the body ('markdown' or 'html'; NULL: ``body`` is an HTML template as
    # written, with no cleaning or layout) and what they wrote; ``body`` then holds the
    # template compiled from it at save, which the mailer renders.
    Column("body_format", String(16), nullable=True),
    Column("body_source", Text, nullable=True),
    # The layout the body is wrapped in (its footer carries the reader's links); NULL: none.
    Column("layout", String(32), nullable=True),
    # With language variants: the variant of readers whose language has none.
    Column("fallback_language", String(2), nullable=True),
    # Once sent, shown in the public archive (a page per language, the lists' Atom feeds).
    Column("archive_public", Boolean, nullable=False, server_default=false()),
    # A subject test (all NULL: none): the share of the audience in the sample, in percent;
    # how long after the start the winner is picked (once the sample is sent); the figure
    # that decides ('clicks' or 'opens'). Once decided: the winning subject (0 is the
    # campaign's own ``subject``, 1-3 those of campaign_test_subjects), when, and why.
    Column("test_sample_percent", Integer, nullable=True),
    Column("test_wait_seconds", Integer, nullable=True),
    Column("test_metric", String(8), nullable=True),
    Column("test_winner", SmallInteger, nullable=True),
    _ts("test_decided_at"),
    Column("test_reason", Text, nullable=True),
    Index("ix_campaigns_status_scheduled_at", "status", "scheduled_at"),
    comment="owner: campaigns",
)

# A campaign's subject and body in one language; a campaign without rows here sends its own.
# The body is compiled as the campaign's is (same format and layout).
campaign_variants = Table(
    "campaign_variants",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("language", String(2), primary_key=True),
    Column("subject", String(998), nullable=False),
    Column("body", Text, nullable=False),
    Column("body_source", Text, nullable=True),
    Column("body_text", Text, nullable=True),
    comment="owner: campaigns",
)

# A subject test's other subjects (positions 1-3; position 0 is the campaign's own subject).
campaign_test_subjects = Table(
    "campaign_test_subjects",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("position", SmallInteger, primary_key=True),
    Column("subject", String(998), nullable=False),
    comment="owner: campaigns",
)

# The organisation layout every campaign layout shows: one row (id 1), edited by admins.
organisation_layout = Table(
    "organisation_layout",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("logo_url", String(2000), nullable=False),
    Column("postal_address", String(500), nullable=False),
    Column("accent_colour", String(7), nullable=False),
    Column("background_colour", String(7), nullable=False),
    Column("footer_text", String(1000), nullable=False),
    _ts("updated_at", nullable=False),
    comment="owner: campaigns",
)

# Clicks on a campaign's tracked links, one row per (link, subscriber), written in batches
# from the click events the public redirect appends to a Redis stream.
link_clicks = Table(
    "link_clicks",
    metadata,
    Column("link_id", Id, ForeignKey("campaign_links.id", ondelete="CASCADE"), primary_key=True),
    Column("subscriber_id", Id, primary_key=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("clicks", Integer, nullable=False, default=1),
    _ts("first_at", nullable=False),
    _ts("last_at", nullable=False),
    # Engagement rules ask "did this subscriber click in any of these campaigns?".
    Index("ix_link_clicks_subscriber_campaign", "subscriber_id", "campaign_id"),
    Index("ix_link_clicks_campaign", "campaign_id"),
    comment="owner: campaigns",
)

# Opens (the tracking pixel was fetched), one row per (campaign, subscriber); only for
# campaigns with track_opens.
campaign_opens = Table(
    "campaign_opens",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("subscriber_id", Id, primary_key=True),
    Column("opens", Integer, nullable=False, default=1),
    _ts("first_at", nullable=False),
    _ts("last_at", nullable=False),
    comment="owner: campaigns",
)

campaign_lists = Table(
    "campaign_lists",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", Id, ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True),
    comment="owner: campaigns",
)

# Saved segments: rules over subscribers (format and compilation: shared/segments.py).
segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("rules", JSON, nullable=False),
    # The principal who created / last changed it: "user:<id>", "token:<id>" or "system".
    Column("created_by", String(64), nullable=False),
    _ts("created_at", nullable=False),
    Column("updated_by", String(64), nullable=False),
    _ts("updated_at", nullable=False),
    comment="owner: campaigns",
)

# Which saved segments a campaign targets, beside its lists.
campaign_segments = Table(
    "campaign_segments",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", Id, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_campaign_segments_segment", "segment_id"),
    comment="owner: campaigns",
)

# Outgoing webhooks: endpoints staff registered, and one row per event per endpoint, which is
# both the delivery queue (status pending, next_attempt_at) and the delivery log shown to staff.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("url", String(2000), nullable=False),
    Column("description", String(200), nullable=False, default=""),
    # The event types (shared.events.EVENT_TYPES) this endpoint receives.
    Column("events", JSON, nullable=False),
    # whsec_<base64>: needed in clear to sign each delivery; shown to staff only at creation.
    Column("secret", String(100), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    # Deliveries that exhausted their retries since the last success; at the limit the
    # endpoint is disabled, with the time and reason shown to staff.
    Column("failures_in_row", Integer, nullable=False, default=0),
    _ts("disabled_at"),
    Column("disabled_reason", String(500), nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    comment="owner: campaigns",
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "endpoint_id", Id, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    ),
    # The Standard Webhooks message id (webhook-id), the same on every attempt.
    Column("message_id", String(64), nullable=False, unique=True),
    # The stream entry the event came from ("test:<token>" for a test event): reading an entry
    # twice after a crash adds no second delivery.
    Column("source", String(64), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    _ts("next_attempt_at"),
    Column("last_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("delivered_at"),
    UniqueConstraint("endpoint_id", "source"),
    # The dispatcher's poll: pending deliveries whose time has come.
    Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    comment="owner: campaigns",
)


# --- owned by the subscriptions service ---------------------------------------------------


def _email_identity(context: DefaultExecutionContext) -> str:
    # Every insert stores the identity of the address it writes, whoever writes the row.
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return address_identity(str(parameters["email"]))


subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # Opaque public identifier carried in signed tokens instead of the address or row id.
    Column("key", String(32), nullable=False, unique=True),
    Column("email", String(320), nullable=False, unique=True),
    # shared/addresses.py: one mailbox is one subscriber whatever the spelling; the address
    # above is kept as typed for display and sending, look-ups go through this key.
    Column(
        "email_key", String(320), nullable=False, unique=True, index=True, default=_email_identity
    ),
    Column("name", String(200), nullable=True),
    Column("language", String(2), nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("source_site_id", Id, ForeignKey("member_sites.id", ondelete="SET NULL")),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    # A municipality id from shared/municipalities.py ("dk-koebenhavn"); optional.
    Column("municipality", String(64), nullable=True),
    # Values of staff-defined custom fields by field key (shared/custom_fields.py). JSONB on
    # PostgreSQL: segment rules read one key per resident, and JSONB does not parse the whole
    # document for each read as JSON does (migration 0024).
    Column("custom_values", JSON().with_variant(JSONB(), "postgresql"), nullable=True),
    # How many lists the subscriber is confirmed on: what "eligible" (shared/segment_sql.py)
    # asks, kept here so counting an audience needs no pass over every subscription. Written
    # with the subscriptions, by the same service, in the same transaction (queries/eligibility.py).
    Column("confirmed_lists", Integer, nullable=False, server_default="0"),
    # Asked only by youth lists' sign-up: the year of birth, nothing finer.
    Column("birth_year", Integer, nullable=True),
    # Under the age of digital consent (or not yet confirmed their own consent since): no IP
    # is recorded and the mailer sends them no tracked links and no open pixel.
    Column("minor", Boolean, nullable=False, server_default=false()),
    # The parent or guardian who was asked to confirm a minor's sign-up.
    Column("guardian_email", String(320), nullable=True),
    # When a minor who has passed the age was asked to confirm their own consent.
    _ts("age_review_sent_at"),
    comment="owner: subscriptions",
)

# The staff search finds subscribers by prefix of the identity key or of the lower-case name
# (migration 0013). On PostgreSQL both carry a "C" collation, so a prefix is one range of the
# index and its order is the search's order whatever the database's collation; SQLite's BINARY
# order already is code point order. Reflection does not report an index's collation, so they
# are declared here without it.
Index("ix_subscribers_email_key_prefix", subscribers.c.email_key)
Index("ix_subscribers_name_prefix", func.lower(subscribers.c.name), subscribers.c.id)
# Segment rules (shared/segment_sql.py) on municipality, source site and sign-up
# date (migration 0015).
Index("ix_subscribers_municipality", subscribers.c.municipality)
Index("ix_subscribers_source_site", subscribers.c.source_site_id)
Index("ix_subscribers_created_at", subscribers.c.created_at)
# Whom any audience may hold, as far as this table says (active, confirmed on some list): a
# broad segment's count is an index-only scan of this, and on PostgreSQL the rules on language,
# municipality and country read the index alone, a quarter of the table's size (migration 0024).
_ELIGIBLE = (subscribers.c.status == "active") & (subscribers.c.confirmed_lists > 0)
Index(
    "ix_subscribers_eligible",
    subscribers.c.id,
    postgresql_where=_ELIGIBLE,
    postgresql_include=["language", "municipality"],
    sqlite_where=_ELIGIBLE,
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("list_id", Id, ForeignKey("mailing_lists.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("source_site_id", Id, ForeignKey("member_sites.id", ondelete="SET NULL")),
    _ts("requested_at", nullable=False),
    _ts("confirmed_at"),
    _ts("unsubscribed_at"),
    Index("ix_subscriptions_list_status", "list_id", "status", "subscriber_id"),
    comment="owner: subscriptions",
)

# Consent history per list: requested, confirmed, withdrawn. Erasure deletes it with the
# subscriber; the audit log keeps a hashed trace.
consent_events = Table(
    "consent_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("list_id", Id, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(16), nullable=False),
    _ts("at", nullable=False),
    Column("source_site_id", Id, ForeignKey("member_sites.id", ondelete="SET NULL")),
    Column("form", String(16), nullable=False),
    Column("consent_text_version", String(32), nullable=True),
    Column("language", String(2), nullable=False),
    Column("ip", String(45), nullable=True),
    # The staff import (form "import") whose attestation vouches for this consent.
    Column("import_id", Id, ForeignKey("imports.id", ondelete="SET NULL"), nullable=True),
    # Who gave this consent: "resident", or "guardian" for a minor (None: the resident, as
    # every record before youth lists).
    Column("consented_by", String(16), nullable=True),
    Index("ix_consent_events_subscriber", "subscriber_id", "at"),
    # A list's confirmations and withdrawals per day (the staff app's growth chart).
    Index("ix_consent_events_list_at", "list_id", "at"),
    comment="owner: subscriptions",
)

# Staff imports of a CSV file into one list: the options, the consent attestation (mode
# "attested": who attests that consent was collected, on what basis, when and how) or a double
# opt-in mail to every address (mode "confirm"), and the progress. The import commits one batch
# of rows at a time with its counters and the last line it covered, so an interrupted import
# says how far it got and continues from there.
imports = Table(
    "imports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # The public handle of the import (the staff app and the job name it by this).
    Column("key", String(64), nullable=False, unique=True),
    Column("list_id", Id, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("update_existing", Boolean, nullable=False),
    Column("default_language", String(2), nullable=False),
    # Which CSV column holds which field: {"email": "E-mail", "custom.member_no": "Nr"}.
    Column("columns", JSON, nullable=False),
    Column("consent_basis", String(200), nullable=True),
    Column("consent_collected", String(200), nullable=True),
    Column("consent_method", String(500), nullable=True),
    Column("attested_by", String(200), nullable=True),
    Column("state", String(16), nullable=False),
    Column("failure", Text, nullable=True),
    # The last physical line of the file the committed batches covered (the header is line 1).
    Column("lines_done", Integer, nullable=False),
    Column("rows_done", Integer, nullable=False),
    Column("added", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("invalid", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("suppressed", Integer, nullable=False),
    # Addresses that had left the list: an import never subscribes them again.
    Column("withdrawn", Integer, nullable=False),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("finished_at"),
    comment="owner: subscriptions",
)

# The lines of an import that were not imported and why (invalid values, duplicates), by line
# number and field; never the values themselves.
import_rejects = Table(
    "import_rejects",
    metadata,
    Column("import_id", Id, ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("problem", String(32), nullable=False),
    # E.g. the line a duplicate first appeared on, or a length limit.
    Column("detail", String(64), nullable=True),
    comment="owner: subscriptions",
)

# Residents' mails handed to the mailer and not yet known to be sent. The mailer's queue lives
# in Redis; a Redis that lost its data would lose them with it, so each is kept here, written in
# the transaction of the change it follows, until the outbox sweep sees that the mailer has
# finished its job (and replays it when Redis has no trace of it).
mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", String(200), nullable=False, unique=True),
    Column(
        "subscriber_id",
        Id,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # The OutboundMail as JSON, as the job carries it.
    Column("mail", Text, nullable=False),
    _ts("created_at", nullable=False),
    Column("replays", Integer, nullable=False, server_default="0"),
    comment="owner: subscriptions",
)

# Erased addresses, kept only as a salted SHA-256 digest so a later sign-up or import of the
# same address is refused without storing the address itself.
suppressions = Table(
    "suppressions",
    metadata,
    Column("email_hash", String(64), primary_key=True),
    Column("reason", String(32), nullable=False),
    _ts("created_at", nullable=False),
    comment="owner: subscriptions",
)

# Who did what to whose data. subscriber_ref is the address digest, not the row id, so the
# trail survives erasure; details never hold personal data.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _ts("at", nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subscriber_ref", String(64), nullable=True),
    Column("details", JSON, nullable=False, default=dict),
    Index("ix_audit_log_subscriber_ref", "subscriber_ref", "at"),
    comment="owner: subscriptions",
)

# --- owned by the mailer service ----------------------------------------------------------

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("subscriber_id", Id, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_code", Integer, nullable=True),
    Column("last_response", String(500), nullable=True),
    Column("message_id", String(255), nullable=False),
    _ts("queued_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("sent_at"),
    # The language variant the recipient got (NULL: the campaign has none), set at fan-out.
    Column("variant", String(2), nullable=True),
    # A subject test's sample: the subject the recipient got (0-3, see campaigns.test_winner),
    # set at fan-out. NULL for everyone else, the rest of a test's audience included.
    Column("subject_variant", SmallInteger, nullable=True),
    UniqueConstraint("campaign_id", "subscriber_id"),
    Index("ix_deliveries_campaign_status", "campaign_id", "status"),
    # The mailer's reconciler looks for claims gone stale across all campaigns every minute.
    Index("ix_deliveries_status_updated", "status", "updated_at"),
    # Suppression at send time: has this subscriber's address bounced in any campaign?
    Index("ix_deliveries_subscriber_status", "subscriber_id", "status"),
    comment="owner: mailer",
)

# A campaign's tracked links: each distinct URL of its body gets an id once per campaign, when
# the mailer prepares the campaign; the public redirect goes only to the URL stored here.
campaign_links = Table(
    "campaign_links",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    # Order of first appearance in the body, for reports.
    Column("position", Integer, nullable=False),
    UniqueConstraint("campaign_id", "position"),
    comment="owner: mailer",
)

campaign_runs = Table(
    "campaign_runs",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("recipients", Integer, nullable=False, default=0),
    _ts("started_at", nullable=False),
    _ts("fanned_out_at"),
    _ts("finished_at"),
    # Why the mailer could not send the campaign at all (state 'failed'), for staff to read.
    Column("failure", Text, nullable=True),
    # When the failure threshold asked for a pause (state 'pause_requested'): a campaign whose
    # row changed later (staff resumed it) is not paused by that request again.
    _ts("pause_requested_at"),
    comment="owner: mailer",
)

# Event feeds (iCalendar or RSS/Atom) that member institutions publish; staff register them per
# member site with the topic (list) and municipality their events default to. The campaigns
# service's feed poller fetches each when ``next_fetch_at`` has come (conditional GET with the
# ETag and Last-Modified kept here) and records the outcome: status 'new', 'ok' or 'broken'
# with ``error`` saying why.
event_feeds = Table(
    "event_feeds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", Id, ForeignKey("member_sites.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("list_id", Id, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    # A municipality id from shared/municipalities.py; NULL: the events belong to none.
    Column("municipality", String(64), nullable=True),
    Column("status", String(16), nullable=False, default="new"),
    Column("error", Text, nullable=True),
    Column("etag", String(500), nullable=True),
    Column("last_modified", String(100), nullable=True),
    _ts("fetched_at"),
    _ts("next_fetch_at", nullable=False),
    _ts("created_at", nullable=False),
    UniqueConstraint("site_id", "url"),
    Index("ix_event_feeds_next_fetch_at", "next_fetch_at"),
    comment="owner: campaigns",
)

# The upcoming events of the feeds, one row per feed and UID (iCalendar) or guid (RSS/Atom):
# a fetch updates the rows it finds and deletes the feed's rows it no longer lists.
events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed_id", Id, ForeignKey("event_feeds.id", ondelete="CASCADE"), nullable=False),
    Column("uid", String(500), nullable=False),
    Column("title", String(500), nullable=False),
    # The start in UTC and the IANA zone the feed gave it in (for showing it as published).
    _ts("starts_at", nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("all_day", Boolean, nullable=False, default=False),
    Column("place", String(500), nullable=True),
    Column("link", String(2000), nullable=True),
    Column("image_url", String(2000), nullable=True),
    Column("list_id", Id, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("municipality", String(64), nullable=True),
    _ts("updated_at", nullable=False),
    UniqueConstraint("feed_id", "uid"),
    Index("ix_events_starts_at", "starts_at"),
    comment="owner: campaigns",
)

# A digest campaign's choice: the period and topics (lists) its events come from, and the
# events staff pinned (shown first) or dropped.
campaign_digests = Table(
    "campaign_digests",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("list_ids", JSON, nullable=False),
    Column("pinned", JSON, nullable=False),
    Column("dropped", JSON, nullable=False),
    _ts("updated_at", nullable=False),
    comment="owner: campaigns",
)

# A digest campaign's event block as HTML, computed once per reader language and municipality
# when staff save the digest: ``municipality`` '' is the block for readers of no municipality
# with events of its own. The mailer picks one per recipient (the body's ``{{ digest }}``); the
# archive shows the '' block.
digest_blocks = Table(
    "digest_blocks",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("language", String(2), primary_key=True),
    Column("municipality", String(64), primary_key=True),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    comment="owner: campaigns",
)
