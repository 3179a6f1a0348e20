"""The staff app's campaigns list, editor and preview: thin handlers over the same domain
functions as ``/api/campaigns``, behind the same permission check."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import campaigns, editor, preview, queries
from services.campaigns.accounts import StaffAccount
from services.campaigns.auth import role_allows
from services.campaigns.content import LAYOUTS
from services.campaigns.editor import EditorForm
from services.campaigns.errors import (
    N_,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from services.campaigns.pages import Renderer
from services.campaigns.render_pool import RenderPool
from services.campaigns.routes.app_guard import allowed, forbidden, language
from services.campaigns.routes.app_pages import render_page, to_login
from services.campaigns.schemas import CampaignOut, PreviewOut, PreviewRequest
from shared.languages import LANGUAGES, Language
from shared.settings import Settings
from shared.statuses import CampaignStatus

# The preview document may style itself and show remote images, nothing else: no scripts, no
# forms, no same-origin access (the iframe's sandbox says the same).
PREVIEW_CSP: Final = "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'"
Text = Annotated[str, QueryParameter(required=False, max_length=320)]


def _not_found(request: Request[Any, Any, Any], _: NotFound) -> Response[str]:
    return render_page(
        request,
        "app/campaign_missing.html",
        status_code=404,
        account=None,
        message=N_("there is no such campaign"),
        error=True,
    )


def _translated(request: Request[Any, Any, Any], account: StaffAccount, text: str) -> str:
    """A domain message in the page's language, as plain text for the template to escape.

    Templates never pass such texts to ``_()``: template errors quote what staff typed, and
    ``_()`` marks its result as safe HTML."""
    pages: Renderer = request.app.state.pages
    return pages.gettext(language(request, account), text)


class PreviewChoice:
    """Whom the editor's preview imagines as the reader, from the page's query."""

    def __init__(self, subscriber: str, lang: str, q: str) -> None:
        # Ids beyond any row reach the domain check, which refuses them like unknown ones.
        self.subscriber_id = (
            int(subscriber) if subscriber.isascii() and subscriber.isdigit() else None
        )
        self.language: Language | None = lang if lang in LANGUAGES else None
        self.q = q

    def request(self) -> PreviewRequest:
        """The API's preview request for this choice."""
        return PreviewRequest(language=self.language, subscriber_id=self.subscriber_id)

    def query(self) -> str:
        """The choice as a query string for the preview document."""
        parts = [f"lang={self.language}"] if self.language else []
        if self.subscriber_id is not None:
            parts.append(f"subscriber={self.subscriber_id}")
        return "&".join(parts)


async def _editor_page(
    request: Request[Any, Any, Any],
    *,
    db: AsyncSession,
    renderer: RenderPool,
    settings: Settings,
    account: StaffAccount,
    campaign: CampaignOut | None,
    form: EditorForm | None = None,
    choice: PreviewChoice | None = None,
    problems: dict[str, editor.Problem] | None = None,
    status_code: int = 200,
    message: str | None = None,
    error: bool = False,
) -> Response[str]:
    may_edit = role_allows(account.role, "editor")
    editable = may_edit and (campaign is None or campaign.status == CampaignStatus.DRAFT)
    choice = choice or PreviewChoice("", "", "")
    context: dict[str, Any] = {}
    if campaign is not None:
        context = await _preview_context(db, renderer, settings, campaign.id, choice)
        if context["preview_problem"]:
            context["preview_problem"] = _translated(request, account, context["preview_problem"])
    return render_page(
        request,
        "app/campaign_edit.html",
        status_code=status_code,
        account=account,
        campaign=campaign,
        form=form or (EditorForm.from_campaign(campaign) if campaign else EditorForm()),
        editable=editable,
        may_edit=may_edit,
        problems={
            name: editor.Problem(_translated(request, account, found.text), found.line)
            for name, found in (problems or {}).items()
        },
        list_choices=await queries.list_choices(db),
        segment_choices=await queries.all_segments(db),
        choice=choice,
        languages=LANGUAGES,
        layouts=LAYOUTS,
        default_sender=settings.mail_from,
        list_names=await editor.list_names(db, language(request, account)),
        message=message,
        error=error,
        **context,
    )


async def _preview_context(
    db: AsyncSession,
    renderer: RenderPool,
    settings: Settings,
    campaign_id: int,
    choice: PreviewChoice,
) -> dict[str, Any]:
    results = await preview.find_readers(db, campaign_id, choice.q) if choice.q else []
    shown: PreviewOut | None = None
    problem: str | None = None
    try:
        shown = await _preview(db, renderer, settings, campaign_id, choice)
    except InvalidInput as exc:
        problem = "; ".join(exc.errors.values()) or exc.message
    return {"results": results, "preview": shown, "preview_problem": problem}


async def _preview(
    db: AsyncSession,
    renderer: RenderPool,
    settings: Settings,
    campaign_id: int,
    choice: PreviewChoice,
) -> PreviewOut:
    return await preview.preview_campaign(
        db,
        renderer,
        campaign_id,
        choice.request(),
        mail_from=settings.mail_from,
        public_url=settings.subscriptions_public_url,
    )


class CampaignPages(Controller):
    """``/app/campaigns``: the list, ``/new``, ``/{id}/edit`` and the preview."""

    path = "/app/campaigns"
    include_in_schema = False
    exception_handlers = {  # noqa: RUF012 - Litestar's own shape
        NotAuthenticated: to_login,
        PermissionDenied: forbidden,
        NotFound: _not_found,
    }

    @get("/")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        *,
        db: NamedDependency[AsyncSession],
        status: Text = "",
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
    ) -> Response[str]:
        """Every campaign, newest first, with a status filter."""
        account = await allowed(request, db, "viewer")
        chosen = editor.status_filter(status)
        listing = await campaigns.list_campaigns(db, page, editor.PER_PAGE, chosen)
        return render_page(
            request,
            "app/campaigns.html",
            account=account,
            listing=listing,
            pages=editor.Pages(page, listing.total),
            status=chosen,
            statuses=list(CampaignStatus),
            may_edit=role_allows(account.role, "editor"),
            list_names=await editor.list_names(db, language(request, account)),
            local_time=editor.local_time,
        )

    @get("/new")
    async def new_form(
        self,
        request: Request[Any, Any, Any],
        *,
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        settings: NamedDependency[Settings],
    ) -> Response[str]:
        """The form for a new campaign (editor)."""
        account = await allowed(request, db, "editor")
        return await _editor_page(
            request, db=db, renderer=renderer, settings=settings, account=account, campaign=None
        )

    @post("/new")
    async def create(
        self,
        request: Request[Any, Any, Any],
        *,
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        """Create the draft, then its edit page; the form again with the problems otherwise."""
        account = await allowed(request, db, "editor")
        form = await _posted(request)
        try:
            campaign = await editor.create(db, renderer, account, form)
        except InvalidInput as exc:
            await db.rollback()
            return await _editor_page(
                request,
                db=db,
                renderer=renderer,
                settings=settings,
                account=account,
                campaign=None,
                form=form,
                problems=editor.problems_of(exc.errors),
                status_code=422,
                message=exc.message,
                error=True,
            )
        return Redirect(f"/app/campaigns/{campaign.id}/edit?created=1", status_code=303)

    @get("/{campaign_id:int}/edit")
    async def edit_form(
        self,
        request: Request[Any, Any, Any],
        *,
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        settings: NamedDependency[Settings],
        campaign_id: FromPath[int],
        subscriber: Text = "",
        lang: Text = "",
        q: Text = "",
        created: Text = "",
    ) -> Response[str]:
        """The editor of a draft (read-only for viewers and once it is no longer a draft), with
        the preview as the chosen reader."""
        account = await allowed(request, db, "viewer")
        campaign = await campaigns.get_campaign(db, campaign_id)
        return await _editor_page(
            request,
            db=db,
            renderer=renderer,
            settings=settings,
            account=account,
            campaign=campaign,
            choice=PreviewChoice(subscriber, lang, q),
            message=N_("the campaign is created") if created else None,
        )

    @post("/{campaign_id:int}/edit")
    async def save(
        self,
        request: Request[Any, Any, Any],
        *,
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        settings: NamedDependency[Settings],
        campaign_id: FromPath[int],
    ) -> Response[str]:
        """Save a draft and show the editor again with "saved", or with the problems."""
        account = await allowed(request, db, "editor")
        form = await _posted(request)
        values = await request.form()
        choice = PreviewChoice(
            str(values.get("preview_subscriber", "")), str(values.get("preview_lang", "")), ""
        )
        try:
            campaign = await editor.save(db, renderer, account, campaign_id, form)
        except (InvalidInput, Conflict) as exc:
            await db.rollback()
            current = await campaigns.get_campaign(db, campaign_id)
            return await _editor_page(
                request,
                db=db,
                renderer=renderer,
                settings=settings,
                account=account,
                campaign=current,
                form=form if isinstance(exc, InvalidInput) else None,
                choice=choice,
                problems=editor.problems_of(exc.errors) if isinstance(exc, InvalidInput) else None,
                status_code=422 if isinstance(exc, InvalidInput) else 409,
                message=exc.message
                if isinstance(exc, InvalidInput)
                else N_("only a draft can be changed"),
                error=True,
            )
        return await _editor_page(
            request,
            db=db,
            renderer=renderer,
            settings=settings,
            account=account,
            campaign=campaign,
            choice=choice,
            message=N_("saved"),
        )

    @get("/{campaign_id:int}/preview")
    async def preview_document(
        self,
        request: Request[Any, Any, Any],
        *,
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        settings: NamedDependency[Settings],
        campaign_id: FromPath[int],
        subscriber: Text = "",
        lang: Text = "",
    ) -> Response[str]:
        """The campaign's HTML as the reader gets it, for a sandboxed iframe on the editor."""
        account = await allowed(request, db, "viewer")
        status_code = 200
        try:
            shown = await _preview(
                db, renderer, settings, campaign_id, PreviewChoice(subscriber, lang, "")
            )
            html = shown.html
        except InvalidInput as exc:
            pages: Renderer = request.app.state.pages
            problem = "; ".join(exc.errors.values()) or exc.message
            html = pages.render(
                "app/preview_problem.html",
                language(request, account),
                problem=_translated(request, account, problem),
            )
            status_code = 422
        return Response(
            html,
            status_code=status_code,
            media_type=MediaType.HTML,
            headers={
                "Content-Security-Policy": PREVIEW_CSP,
                "X-Frame-Options": "SAMEORIGIN",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )

    @get("/{campaign_id:int}/preview-panel")
    async def preview_panel(
        self,
        request: Request[Any, Any, Any],
        *,
        db: NamedDependency[AsyncSession],
        renderer: NamedDependency[RenderPool],
        settings: NamedDependency[Settings],
        campaign_id: FromPath[int],
        subscriber: Text = "",
        lang: Text = "",
    ) -> Response[str]:
        """The preview part of the editor alone, for htmx to swap in."""
        account = await allowed(request, db, "viewer")
        campaign = await campaigns.get_campaign(db, campaign_id)
        choice = PreviewChoice(subscriber, lang, "")
        context = await _preview_context(db, renderer, settings, campaign_id, choice)
        if context["preview_problem"]:
            context["preview_problem"] = _translated(request, account, context["preview_problem"])
        return render_page(
            request,
            "app/campaign_preview_panel.html",
            account=account,
            campaign=campaign,
            choice=choice,
            **context,
        )

    @get("/{campaign_id:int}/readers")
    async def readers(
        self,
        request: Request[Any, Any, Any],
        *,
        db: NamedDependency[AsyncSession],
        campaign_id: FromPath[int],
        q: Text = "",
        subscriber: Text = "",
    ) -> Response[str]:
        """Confirmed subscribers of the campaign's lists by address prefix, for htmx."""
        account = await allowed(request, db, "viewer")
        return render_page(
            request,
            "app/campaign_readers.html",
            account=account,
            results=await preview.find_readers(db, campaign_id, q),
            choice=PreviewChoice(subscriber, "", q),
        )


async def _posted(request: Request[Any, Any, Any]) -> EditorForm:
    values = await request.form()
    plain = {key: str(values.get(key, "")) for key in values}
    return EditorForm.from_post(
        plain,
        [str(item) for item in values.getall("lists", [])],
        [str(item) for item in values.getall("segments", [])],
    )
