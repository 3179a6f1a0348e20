"""The HTTP surface of the campaigns service: thin handlers over the domain modules."""

from __future__ import annotations

from litestar import Router
from litestar.middleware import DefineMiddleware

from services.campaigns.openapi import document_errors
from services.campaigns.routes.audit import AuditController
from services.campaigns.routes.audit_trail import AuditTrailMiddleware
from services.campaigns.routes.campaign_sending import CampaignSendingController
from services.campaigns.routes.campaigns import CampaignsController
from services.campaigns.routes.dashboard import DashboardController
from services.campaigns.routes.fields import FieldsController
from services.campaigns.routes.health import live, ready
from services.campaigns.routes.lists import ListsController
from services.campaigns.routes.organisation import OrganisationController
from services.campaigns.routes.security import BearerTokenMiddleware, requires
from services.campaigns.routes.segments import SegmentsController
from services.campaigns.routes.sites import SitesController
from services.campaigns.routes.subscribers import SubscribersController
from services.campaigns.routes.users import TokensController, UsersController
from services.campaigns.routes.webhooks import WebhooksController

BEARER_SCHEME = "BearerToken"

__all__ = ["BEARER_SCHEME", "api_router", "health_handlers"]


def api_router() -> Router:
    """``/api``: every route needs a bearer token of at least the viewer role."""
    router = Router(
        path="/api",
        route_handlers=[
            ListsController,
            CampaignsController,
            CampaignSendingController,
            SitesController,
            FieldsController,
            SegmentsController,
            SubscribersController,
            AuditController,
            UsersController,
            TokensController,
            DashboardController,
            OrganisationController,
            WebhooksController,
        ],
        # OPTIONS too: Litestar skips it by default, and the role guard then finds no user.
        # Authentication first: the audit trail names the caller it let through.
        middleware=[
            DefineMiddleware(BearerTokenMiddleware, exclude_http_methods=()),
            AuditTrailMiddleware,
        ],
        guards=[requires("viewer")],
        security=[{BEARER_SCHEME: []}],
    )
    return document_errors(router)


health_handlers = [live, ready]
