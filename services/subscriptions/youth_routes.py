"""Youth list pages: a guardian confirms a minor's sign-up, a resident past the age confirms
their own consent. Following a link changes nothing; the button on its page does."""

from __future__ import annotations

from litestar import Response, get, post
from litestar.enums import MediaType
from litestar.params import FromPath

from services.subscriptions import age_review, guardian
from services.subscriptions.dependencies import Jobs, Pages, Session, Signer
from services.subscriptions.http_input import AnyRequest
from services.subscriptions.i18n import list_name
from services.subscriptions.pages import Renderer, request_language
from services.subscriptions.routes import MAX_LINK_BODY_BYTES, link_gone


@get("/guardian/{token:str}", media_type=MediaType.HTML)
async def guardian_form(
    request: AnyRequest, token: FromPath[str], session: Session, signer: Signer, renderer: Pages
) -> Response[str]:
    """What the child signed up for and what is kept, with one button that confirms."""
    target = await guardian.inspect(session, signer, token)
    lang = request_language(request, target.language)
    if not target.applies:
        return link_gone(renderer, request, lang)
    names = [list_name(row, lang) for row in target.lists]
    return renderer.page("guardian.html", lang, path=request.url.path, token=token, lists=names)


@post(
    "/guardian/{token:str}",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_LINK_BODY_BYTES,
    status_code=200,
)
async def guardian_confirm(
    request: AnyRequest,
    token: FromPath[str],
    *,
    session: Session,
    signer: Signer,
    renderer: Pages,
    jobs: Jobs,
) -> Response[str]:
    """Confirm the minor's pending lists as the guardian; a second time shows the same page."""
    target = await guardian.confirm(session, signer, token, jobs=jobs)
    lang = request_language(request, target.language)
    if not target.applies:
        return link_gone(renderer, request, lang)
    names = [list_name(row, lang) for row in target.lists]
    return renderer.page("guardian_confirmed.html", lang, path=request.url.path, lists=names)


@get("/age-review/{token:str}", media_type=MediaType.HTML)
async def age_review_form(
    request: AnyRequest, token: FromPath[str], session: Session, signer: Signer, renderer: Pages
) -> Response[str]:
    """The resident's lists, with one button that confirms their own consent."""
    target = await age_review.inspect(session, signer, token)
    return _review_page(request, renderer, token, target)


@post(
    "/age-review/{token:str}",
    media_type=MediaType.HTML,
    request_max_body_size=MAX_LINK_BODY_BYTES,
    status_code=200,
)
async def age_review_confirm(
    request: AnyRequest, token: FromPath[str], *, session: Session, signer: Signer, renderer: Pages
) -> Response[str]:
    """Record the resident's own consent; a second time shows that it is done."""
    target = await age_review.confirm_own_consent(session, signer, token)
    return _review_page(request, renderer, token, target)


def _review_page(
    request: AnyRequest, renderer: Renderer, token: str, target: age_review.ReviewTarget
) -> Response[str]:
    lang = request_language(request, target.language)
    if target.language is None:
        return link_gone(renderer, request, lang)
    names = [list_name(row, lang) for row in target.lists]
    return renderer.page(
        "age_review.html",
        lang,
        path=request.url.path,
        token=token,
        lists=names,
        pending=target.pending,
    )


YOUTH_ROUTES = [guardian_form, guardian_confirm, age_review_form, age_review_confirm]
