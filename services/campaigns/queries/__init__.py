"""Every SQL statement of the campaigns service (SQLAlchemy Core over shared.schema), by aggregate.

Functions take an open session and never commit: the domain function that calls them owns the
transaction. Rows come back as frozen dataclasses defined beside the queries that return them.
The mailer's tables (deliveries, campaign_runs) and the subscriptions service's (subscriptions)
are only read here. Callers use ``queries.<function>`` and ``queries.<Row>``.
"""

from services.campaigns.queries.campaigns import (
    CampaignRow,
    campaign_by_id,
    campaign_page,
    change_status,
    count_campaigns,
    insert_campaign,
    list_slugs_of,
    mark_sending,
    pause_for_mailer,
    unmark_sending,
    update_draft,
)
from services.campaigns.queries.common import (
    MAX_ID,
    ping,
)
from services.campaigns.queries.dashboard import (
    CampaignBrief,
    FinishedCampaign,
    campaigns_in_status,
    confirmed_per_day,
    confirmed_per_list,
    confirmed_per_site,
    finished_campaigns,
    subscriptions_per_site,
)
from services.campaigns.queries.fields import (
    FieldRow,
    all_fields,
    delete_field,
    field_by_key,
    insert_field,
    update_field,
)
from services.campaigns.queries.lists import (
    ListRow,
    all_lists,
    insert_list,
    list_by_slug,
    list_ids_by_slug,
    public_lists_by_slug,
    update_list,
)
from services.campaigns.queries.sites import (
    SiteRow,
    all_sites,
    delete_site,
    insert_site,
    site_by_key,
    site_exists,
    update_site,
)
from services.campaigns.queries.staff_audit import (
    audit_page,
    insert_audit,
)
from services.campaigns.queries.staff_users import (
    all_staff_users,
    insert_staff_user,
    staff_user_by_email,
    staff_user_by_id,
    staff_user_exists,
    update_staff_user,
)
from services.campaigns.queries.stats import (
    FailedDelivery,
    RunRow,
    campaign_run_rows,
    delivery_counts,
    failed_deliveries,
    failed_summary,
    site_signups_per_day,
    site_subscription_counts,
)
from services.campaigns.queries.tokens import (
    all_tokens,
    insert_token,
    insert_user_token,
    revoke_token,
    token_by_hash,
    token_owner,
    touch_token,
)

__all__ = [
    "MAX_ID",
    "CampaignBrief",
    "CampaignRow",
    "FailedDelivery",
    "FieldRow",
    "FinishedCampaign",
    "ListRow",
    "RunRow",
    "SiteRow",
    "all_fields",
    "all_lists",
    "all_sites",
    "all_staff_users",
    "all_tokens",
    "audit_page",
    "campaign_by_id",
    "campaign_page",
    "campaign_run_rows",
    "campaigns_in_status",
    "change_status",
    "confirmed_per_day",
    "confirmed_per_list",
    "confirmed_per_site",
    "count_campaigns",
    "delete_field",
    "delete_site",
    "delivery_counts",
    "failed_deliveries",
    "failed_summary",
    "field_by_key",
    "finished_campaigns",
    "insert_audit",
    "insert_campaign",
    "insert_field",
    "insert_list",
    "insert_site",
    "insert_staff_user",
    "insert_token",
    "insert_user_token",
    "list_by_slug",
    "list_ids_by_slug",
    "list_slugs_of",
    "mark_sending",
    "pause_for_mailer",
    "ping",
    "public_lists_by_slug",
    "revoke_token",
    "site_by_key",
    "site_exists",
    "site_signups_per_day",
    "site_subscription_counts",
    "staff_user_by_email",
    "staff_user_by_id",
    "staff_user_exists",
    "subscriptions_per_site",
    "token_by_hash",
    "token_owner",
    "touch_token",
    "unmark_sending",
    "update_draft",
    "update_field",
    "update_list",
    "update_site",
    "update_staff_user",
]
