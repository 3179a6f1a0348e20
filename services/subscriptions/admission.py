"""The one admission step in front of every sign-up, whichever form sent it.

In order: the member site the sign-up names (unknown: refused), the browser origin of a JSON
call (another site's: 403), the proof of work the site (or, without a site, the
BREVDUE_PROOF_OF_WORK_WITHOUT_SITE policy) asks for, the per-client rate limit, and the site's
defaults for what the resident left out. What is admitted carries the consent source (entry
point, site, client IP) the sign-up is recorded under, and the public custom fields it is
checked against.

Refusals are plain InvalidInput, CrossOriginRefused or RateLimited; the route decides how to
show them (signup.refusals_for_the_form adds what a form needs to be shown again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request

from services.subscriptions import cors
from services.subscriptions.abuse import SignupGuard
from services.subscriptions.consent import ConsentSource
from services.subscriptions.errors import FieldProblem, InvalidInput
from services.subscriptions.http_input import client_ip
from services.subscriptions.proof_of_work import ProofOfWork
from services.subscriptions.public_fields import PublicFieldDirectory
from services.subscriptions.queries import CustomFieldRow
from services.subscriptions.schemas import MAX_SITE_KEY, SubscribeBody
from services.subscriptions.sites import Site, SiteDirectory
from services.subscriptions.widget import page_language
from shared.settings import Settings


@dataclass(frozen=True)
class Admitted:
    """A sign-up let through: its body with the site's defaults, its site and consent source."""

    body: SubscribeBody
    site: Site | None
    source: ConsentSource
    # The public custom fields the sign-up is checked against.
    fields: tuple[CustomFieldRow, ...] = ()


@dataclass(frozen=True)
class Admission:
    """Site, origin, proof of work, rate limit and site defaults, for every sign-up."""

    sites: SiteDirectory
    proof_of_work: ProofOfWork
    guard: SignupGuard
    settings: Settings
    fields: PublicFieldDirectory

    async def admit(
        self,
        request: Request[Any, Any, Any],
        body: SubscribeBody,
        *,
        entry: str,
        is_json: bool = False,
    ) -> Admitted:
        """Let a sign-up through or raise why not; ``entry`` is the consent record's form."""
        key = (body.site or "").strip()
        site = await self.sites.get(key) if 0 < len(key) <= MAX_SITE_KEY else None
        if is_json:
            # Checked before anything else can fail, so the widget can read every refusal.
            cors.check_json_call(request, site, self.settings)
        if key and site is None:
            raise InvalidInput({"site": FieldProblem("unknown")}, language=body.language)
        if await self.requires_proof_of_work(site):
            try:
                await self.proof_of_work.verify(body.altcha)
            except InvalidInput as exc:
                language = body.language or (site.default_language if site else None)
                raise InvalidInput(exc.problems, language=language) from None
        ip = client_ip(request)
        await self.guard.admit_client(ip or "unknown")
        body = with_site_defaults(body, site, request.headers.get("accept-language"))
        source = ConsentSource(entry, site_id=site.id if site else None, ip=ip)
        return Admitted(body, site, source, await self.fields.get())

    async def requires_proof_of_work(self, site: Site | None) -> bool:
        """Whether a sign-up for ``site`` (None: naming no site) needs a proof of work."""
        if site is not None:
            return site.require_proof_of_work
        policy = self.settings.proof_of_work_without_site
        if policy == "sites":
            return await self.sites.any_site_requires_proof_of_work()
        return policy == "always"


def with_site_defaults(
    body: SubscribeBody, site: Site | None, accept_language: str | None = None
) -> SubscribeBody:
    """The sign-up with a language when the resident chose none: their browser's
    (Accept-Language), else the site's default."""
    if site is None or body.language:
        return body
    return msgspec.structs.replace(body, language=page_language(None, site, accept_language))
