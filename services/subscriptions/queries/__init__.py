"""Every SQL statement of the subscriptions service (SQLAlchemy Core over shared.schema).

Split by aggregate. Query functions take a session and never begin or commit: the domain
function that calls them owns the transaction. Rows are frozen dataclasses. Callers use
``queries.<function>``.
"""

from services.subscriptions.queries.archive import (
    ArchivedCampaign,
    ArchiveList,
    get_archive_list,
    get_campaign_list_ids,
    get_public_campaigns_of,
    get_sent_campaign,
)
from services.subscriptions.queries.audit import (
    AuditEntryRow,
    get_audit_entries,
    insert_audit_entry,
    insert_suppression,
    is_suppressed,
)
from services.subscriptions.queries.consent import (
    ConsentHistoryRow,
    ConsentRecord,
    get_consent_events_of,
    get_latest_requests,
    insert_consent_events,
)
from services.subscriptions.queries.custom_fields import (
    CustomFieldRow,
    get_public_custom_fields,
)
from services.subscriptions.queries.database import (
    ping_database,
)
from services.subscriptions.queries.lists import (
    ListRow,
    ListTextRow,
    PreferenceListRow,
    WelcomeRow,
    get_lists_by_id,
    get_preference_lists,
    get_public_list_texts,
    get_public_lists,
    get_welcome_texts,
)
from services.subscriptions.queries.purge import (
    delete_stale_pending,
    delete_subscribers_without_subscriptions,
    find_stale_pending_subscribers,
)
from services.subscriptions.queries.sites import (
    SiteRow,
    any_site_requires_proof_of_work,
    get_all_allowed_origins,
    get_site_by_key,
    get_site_id,
    get_site_key,
)
from services.subscriptions.queries.subscribers import (
    DeliveryRow,
    ProfileRow,
    SubscriberRow,
    change_subscriber_status,
    delete_subscriber,
    get_deliveries_of,
    get_profile_by_email,
    get_profile_by_key,
    get_subscriber_by_email,
    get_subscriber_by_id,
    get_subscriber_by_key,
    insert_subscriber,
    touch_subscriber,
    update_profile,
)
from services.subscriptions.queries.subscriptions import (
    SubscriptionHistoryRow,
    confirm_pending_lists,
    get_subscription_statuses,
    get_subscriptions_of,
    has_confirmed_subscription,
    insert_pending_subscriptions,
    leave_lists,
    reopen_unsubscribed,
)
from services.subscriptions.queries.tracking import (
    LinkTarget,
    campaign_tracks_opens,
    get_link_target,
)

__all__ = [
    "ArchiveList",
    "ArchivedCampaign",
    "AuditEntryRow",
    "ConsentHistoryRow",
    "ConsentRecord",
    "CustomFieldRow",
    "DeliveryRow",
    "LinkTarget",
    "ListRow",
    "ListTextRow",
    "PreferenceListRow",
    "ProfileRow",
    "SiteRow",
    "SubscriberRow",
    "SubscriptionHistoryRow",
    "WelcomeRow",
    "any_site_requires_proof_of_work",
    "campaign_tracks_opens",
    "change_subscriber_status",
    "confirm_pending_lists",
    "delete_stale_pending",
    "delete_subscriber",
    "delete_subscribers_without_subscriptions",
    "find_stale_pending_subscribers",
    "get_all_allowed_origins",
    "get_archive_list",
    "get_audit_entries",
    "get_campaign_list_ids",
    "get_consent_events_of",
    "get_deliveries_of",
    "get_latest_requests",
    "get_link_target",
    "get_lists_by_id",
    "get_preference_lists",
    "get_profile_by_email",
    "get_profile_by_key",
    "get_public_campaigns_of",
    "get_public_custom_fields",
    "get_public_list_texts",
    "get_public_lists",
    "get_sent_campaign",
    "get_site_by_key",
    "get_site_id",
    "get_site_key",
    "get_subscriber_by_email",
    "get_subscriber_by_id",
    "get_subscriber_by_key",
    "get_subscription_statuses",
    "get_subscriptions_of",
    "get_welcome_texts",
    "has_confirmed_subscription",
    "insert_audit_entry",
    "insert_consent_events",
    "insert_pending_subscriptions",
    "insert_subscriber",
    "insert_suppression",
    "is_suppressed",
    "leave_lists",
    "ping_database",
    "reopen_unsubscribed",
    "touch_subscriber",
    "update_profile",
]
