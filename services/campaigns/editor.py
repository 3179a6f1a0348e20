"""The staff app's campaign editor: its form to and from the API's campaign bodies (sender name
and address are one mailbox in ``campaigns.from_address``), its field problems with their
template line, and what the campaigns list and editor pages show."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Final, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.campaigns import campaigns, permissions, queries, staff_audit
from services.campaigns.accounts import StaffAccount
from services.campaigns.content import LAYOUTS
from services.campaigns.drafts import Draft, VariantDraft, check_draft
from services.campaigns.errors import N_, InvalidInput
from services.campaigns.render_pool import RenderPool
from services.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignPatch,
    SubjectTestIn,
    VariantIn,
)
from shared.languages import DEFAULT_LANGUAGE, LANGUAGES, Language, localised
from shared.statuses import CampaignStatus

PER_PAGE: Final = 20
NAME_MAX: Final = 200
_SPECIALS: Final = re.compile(r'[()<>@,;:\\".\[\]]')
_LINE: Final = re.compile(r"^line (\d+): (.*)$", re.DOTALL)
# Staff of the Swedish members read times in Stockholm's zone; the rules are the same today,
# but the zone named is the one they know.
_ZONES: Final = {"sv": ZoneInfo("Europe/Stockholm")}
_DEFAULT_ZONE: Final = ZoneInfo("Europe/Copenhagen")


# The body formats the editor offers: "" is an HTML template taken as written (no cleaning,
# no layout), as every campaign was before formats.
FORMATS: Final = ("markdown", "html", "")


@dataclass(frozen=True)
class VariantForm:
    """One language's subject and bodies in the editor; all empty: no variant."""

    language: str
    subject: str = ""
    body: str = ""
    body_text: str = ""

    def given(self) -> bool:
        """Whether staff wrote anything for this language."""
        return bool(self.subject.strip() or self.body.strip() or self.body_text.strip())


@dataclass(frozen=True)
class EditorForm:
    """What the editor's form holds, as typed."""

    subject: str = ""
    sender_name: str = ""
    sender_address: str = ""
    lists: tuple[str, ...] = ()
    body: str = ""
    body_text: str = ""
    segments: tuple[int, ...] = ()
    body_format: str = "markdown"
    layout: str = LAYOUTS[0]
    language: str = DEFAULT_LANGUAGE
    variants: tuple[VariantForm, ...] = tuple(VariantForm(code) for code in LANGUAGES)
    track_opens: bool = False
    archive_public: bool = False
    # A subject test: the other subjects one per line (none: no test), its sample share in
    # percent, its wait in minutes and what decides, as typed.
    test_subjects: str = ""
    test_sample_percent: str = "20"
    test_wait_minutes: str = "240"
    test_metric: str = "clicks"

    @classmethod
    def from_campaign(cls, campaign: CampaignOut) -> EditorForm:
        """The form filled with a stored campaign."""
        name, address = sender_parts(campaign.from_address)
        stored = {variant.language: variant for variant in campaign.variants}
        return cls(
            subject=campaign.subject,
            sender_name=name,
            sender_address=address,
            lists=tuple(campaign.lists),
            body=campaign.body,
            body_text=campaign.body_text or "",
            segments=tuple(campaign.segments),
            body_format=campaign.body_format or "",
            layout=campaign.layout or LAYOUTS[0],
            language=campaign.fallback_language or DEFAULT_LANGUAGE,
            variants=tuple(
                VariantForm(
                    code,
                    stored[code].subject,
                    stored[code].body,
                    stored[code].body_text or "",
                )
                if code in stored
                else VariantForm(code)
                for code in LANGUAGES
            ),
            track_opens=campaign.track_opens,
            archive_public=campaign.archive_public,
            **_test_fields(campaign),
        )

    @classmethod
    def from_post(
        cls, values: Mapping[str, str], lists: Sequence[str], segments: Sequence[str] = ()
    ) -> EditorForm:
        """The form as posted (line breaks as the browser sends them, CRLF, made LF)."""

        def text(name: str) -> str:
            return values.get(name, "").replace("\r\n", "\n")

        return cls(
            subject=text("subject"),
            sender_name=text("sender_name").strip(),
            sender_address=text("sender_address").strip(),
            lists=tuple(dict.fromkeys(lists)),
            body=text("body"),
            body_text=text("body_text"),
            # Ticked boxes carry ids; anything else names no segment.
            segments=tuple(dict.fromkeys(int(s) for s in segments if s.isdigit() and len(s) < 19)),
            body_format=text("body_format"),
            layout=text("layout"),
            language=text("language") or DEFAULT_LANGUAGE,
            variants=tuple(
                VariantForm(
                    code,
                    text(f"variant_{code}_subject"),
                    text(f"variant_{code}_body"),
                    text(f"variant_{code}_body_text"),
                )
                for code in LANGUAGES
            ),
            # Checkboxes: sent when ticked, absent otherwise.
            track_opens=values.get("track_opens") == "on",
            archive_public=values.get("archive_public") == "on",
            test_subjects=text("test_subjects"),
            test_sample_percent=text("test_sample_percent").strip(),
            test_wait_minutes=text("test_wait_minutes").strip(),
            test_metric=text("test_metric"),
        )

    def mailbox(self) -> str | None:
        """The sender as one mailbox; None: the service's default sender."""
        return mailbox(self.sender_name, self.sender_address)

    def create(self) -> CampaignCreate:
        """The API's body for a new campaign."""
        body_format = _format(self.body_format)
        variants = self.variant_bodies()
        return CampaignCreate(
            subject=self.subject,
            body=self.body,
            lists=list(self.lists),
            segments=list(self.segments),
            body_text=self.body_text if self.body_text.strip() else None,
            from_address=self.mailbox(),
            body_format=body_format,
            layout=_layout(self.layout) if body_format else None,
            fallback_language=_language(self.language) if variants else None,
            variants=variants,
            track_opens=self.track_opens,
            archive_public=self.archive_public,
            subject_test=self.subject_test(),
        )

    def subject_test(self) -> SubjectTestIn | None:
        """The subject test as the API takes it; None when no other subject is given."""
        others = [line.strip() for line in self.test_subjects.split("\n") if line.strip()]
        if not others:
            return None
        return SubjectTestIn(
            other_subjects=others,
            # What is no number breaks the rule on purpose: the page then says what is wrong.
            sample_percent=_whole(self.test_sample_percent),
            wait_seconds=_whole(self.test_wait_minutes) * 60,
            metric="opens" if self.test_metric == "opens" else "clicks",
        )

    def variant_bodies(self) -> list[VariantIn]:
        """The languages staff wrote a variant for, as the API takes them."""
        return [
            VariantIn(
                language=_language(variant.language) or DEFAULT_LANGUAGE,
                subject=variant.subject,
                body=variant.body,
                body_text=variant.body_text if variant.body_text.strip() else None,
            )
            for variant in self.variants
            if variant.given()
        ]


def _whole(value: str) -> int:
    return int(value) if value.isdigit() and len(value) < 9 else 0


def _test_fields(campaign: CampaignOut) -> dict[str, str]:
    test = campaign.subject_test
    if test is None:
        return {}
    return {
        "test_subjects": "\n".join(test.subjects[1:]),
        "test_sample_percent": str(test.sample_percent),
        "test_wait_minutes": str(max(1, test.wait_seconds // 60)),
        "test_metric": test.metric,
    }


def _format(value: str) -> Literal["markdown", "html"] | None:
    return "markdown" if value == "markdown" else "html" if value == "html" else None


def _layout(value: str) -> Literal["simple", "banner", "card"]:
    return "banner" if value == "banner" else "card" if value == "card" else "simple"


def _language(value: str) -> Language | None:
    return next((code for code in LANGUAGES if code == value), None)


def sender_parts(from_address: str | None) -> tuple[str, str]:
    """Display name and address of a stored sender ("" and "" for the default sender)."""
    if not from_address:
        return "", ""
    name, address = parseaddr(from_address)
    return name, address or from_address


def mailbox(name: str, address: str) -> str | None:
    """``Name <address>`` as a human writes it (non-ASCII letters kept; the mailer encodes
    them), the name quoted when it holds specials; None when both are empty."""
    if not address:
        if name:
            raise InvalidInput(
                N_("the campaign is not valid"),
                {"from_address": N_("a sender name needs a sender address")},
            )
        return None
    if len(name) > NAME_MAX:
        raise InvalidInput(
            N_("the campaign is not valid"),
            {"from_address": N_("the sender name is too long")},
        )
    return display_mailbox(name, address)


def display_mailbox(name: str, address: str) -> str:
    """``Name <address>``, or the address alone; the name quoted when it holds specials."""
    if not name:
        return address
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field; ``line`` is the template line, where known."""

    text: str
    line: int | None = None


def problems_of(errors: Mapping[str, str]) -> dict[str, Problem]:
    """The API's field errors ("line 3: …") as problems the page shows beside each field."""
    found: dict[str, Problem] = {}
    for name, text in errors.items():
        match = _LINE.match(text)
        found[name] = Problem(match[2], int(match[1])) if match else Problem(text)
    return found


async def _body(renderer: RenderPool, form: EditorForm) -> CampaignCreate:
    """The API's body for the form; a sender problem is reported with every other one."""
    try:
        return form.create()
    except InvalidInput as exc:
        draft = Draft(
            subject=form.subject,
            body=form.body,
            body_text=form.body_text if form.body_text.strip() else None,
            from_address=None,
            lists=list(form.lists),
            segments=form.segments,
            variants=tuple(
                VariantDraft(item.language, item.subject, item.body, item.body_text)
                for item in form.variant_bodies()
            ),
            fallback_language=form.language,
        )
        problems = await renderer.run("body", check_draft, draft)
        raise InvalidInput(exc.message, {**problems, **exc.errors}) from exc


async def create(
    session: AsyncSession, renderer: RenderPool, account: StaffAccount, form: EditorForm
) -> CampaignOut:
    """Create a draft from the form through the API's domain function, and audit it."""
    campaign = await campaigns.create_campaign(session, renderer, await _body(renderer, form))
    await _audit(session, account, "campaign.create", campaign.id)
    return campaign


async def save(
    session: AsyncSession,
    renderer: RenderPool,
    account: StaffAccount,
    campaign_id: int,
    form: EditorForm,
) -> CampaignOut:
    """Save every field of a draft through the API's domain function, and audit it."""
    body = await _body(renderer, form)
    patch = CampaignPatch(
        subject=body.subject,
        body=body.body,
        lists=body.lists,
        segments=body.segments,
        body_text=body.body_text,
        from_address=body.from_address,
        body_format=body.body_format,
        layout=body.layout,
        fallback_language=body.fallback_language,
        variants=body.variants,
        track_opens=body.track_opens,
        archive_public=body.archive_public,
        subject_test=body.subject_test,
    )
    campaign = await campaigns.update_campaign(session, renderer, campaign_id, patch)
    await _audit(session, account, "campaign.update", campaign_id)
    return campaign


async def _audit(session: AsyncSession, account: StaffAccount, action: str, ident: int) -> None:
    fields = [
        "archive_public",
        "body",
        "body_format",
        "body_text",
        "fallback_language",
        "from_address",
        "layout",
        "lists",
        "segments",
        "subject",
        "subject_test",
        "track_opens",
        "variants",
    ]
    await staff_audit.record(
        session, permissions.actor(account), action, f"campaign:{ident}", {"fields": fields}
    )
    await session.commit()


async def list_names(session: AsyncSession, lang: str) -> dict[str, str]:
    """Every list's name in ``lang`` by slug, for showing a campaign's lists."""
    return {
        row.slug: localised(row, "name", lang, row.slug) for row in await queries.all_lists(session)
    }


def status_filter(value: str | None) -> CampaignStatus | None:
    """The status named in the list's filter; None for every status or an unknown one."""
    try:
        return CampaignStatus(value) if value else None
    except ValueError:
        return None


def local_time(value: datetime | None, lang: str) -> str:
    """A time as staff read it: in Copenhagen's zone (Stockholm's for Swedish), to the minute."""
    if value is None:
        return ""
    return value.astimezone(_ZONES.get(lang, _DEFAULT_ZONE)).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Pages:
    """Where a paginated listing is and how far it goes."""

    page: int
    total: int
    per_page: int = PER_PAGE
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", max(1, -(-self.total // self.per_page)))
