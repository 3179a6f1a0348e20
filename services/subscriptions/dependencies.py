"""What handlers receive by injection, named once for every route module.

Litestar injects by parameter name; app.create_app provides each name below. The mail
machinery comes grouped as one ``outbox`` and the checks in front of a sign-up as one
``admission``, so handlers pass two things down rather than seven.
"""

from __future__ import annotations

from typing import TypeAlias

from arq.connections import ArqRedis
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions.abuse import SignupGuard
from services.subscriptions.admission import Admission
from services.subscriptions.outbox import Outbox
from services.subscriptions.pages import Renderer
from services.subscriptions.proof_of_work import ProofOfWork
from services.subscriptions.public_lists import PublicListDirectory
from services.subscriptions.sites import SiteDirectory
from shared.settings import Settings
from shared.tokens import TokenSigner

Session: TypeAlias = NamedDependency[AsyncSession]
Jobs: TypeAlias = NamedDependency[ArqRedis]
Signer: TypeAlias = NamedDependency[TokenSigner]
Pages: TypeAlias = NamedDependency[Renderer]
Config: TypeAlias = NamedDependency[Settings]
Guard: TypeAlias = NamedDependency[SignupGuard]
Sites: TypeAlias = NamedDependency[SiteDirectory]
Work: TypeAlias = NamedDependency[ProofOfWork]
Mail: TypeAlias = NamedDependency[Outbox]
Admit: TypeAlias = NamedDependency[Admission]
Lists: TypeAlias = NamedDependency[PublicListDirectory]
