"""The preference center: a resident edits lists, language, name, municipality and public
custom fields through the signed link in every mail footer, without logging in."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from litestar.datastructures import FormMultiDict
from sqlalchemy.ext.asyncio import AsyncSession

from services.subscriptions import audit, consent, queries
from services.subscriptions.consent import ConsentSource
from services.subscriptions.errors import FieldProblem
from services.subscriptions.i18n import LANGUAGES, N_
from services.subscriptions.links import (
    preferences_url,
    read_preferences_token,
    sign_confirm,
    sign_preferences,
)
from services.subscriptions.mail import JobQueue, enqueue_mail, render_confirmation
from services.subscriptions.pages import Renderer
from services.subscriptions.queries import (
    ACTIVE,
    CONFIRMED,
    PENDING,
    PreferenceListRow,
    ProfileRow,
)
from shared.custom_fields import InvalidCustomValue, validate_custom_value
from shared.municipalities import BY_ID, MUNICIPALITIES
from shared.settings import Settings
from shared.tokens import TokenSigner

log = structlog.get_logger(__name__)

MAX_NAME: Final = 200
MAX_FORM_VALUES: Final = 200  # list checkboxes and custom fields together
CUSTOM_PREFIX: Final = "field_"

MESSAGES: Final[Mapping[tuple[str, str], str]] = {
    ("name", "too_long"): N_("The name is too long (at most %(detail)s characters)."),
    ("name", "invalid"): N_("The name contains characters we cannot store."),
    ("language", "invalid"): N_("Choose Danish, Swedish or English."),
    ("municipality", "unknown"): N_("Choose a municipality from the list."),
    ("lists", "unknown"): N_("One of the newsletters you chose is not available."),
    ("custom", "required"): N_("This field is required."),
    ("custom", "must_be_ticked"): N_("Tick this box to continue."),
    ("custom", "invalid"): N_("This value is not valid."),
}
COUNTRY_GROUPS: Final = (("DK", N_("Denmark")), ("SE", N_("Skåne")))


@dataclass(frozen=True)
class ListOption:
    """A list as the preference page shows it."""

    slug: str
    name: str
    description: str
    checked: bool
    pending: bool


@dataclass(frozen=True)
class Preferences:
    """A subscriber's stored choices and what the page may offer them."""

    token: str
    profile: ProfileRow
    lists: tuple[PreferenceListRow, ...]
    custom_fields: tuple[dict[str, Any], ...]

    def list_options(self, lang: str, ticked: Sequence[str] | None = None) -> list[ListOption]:
        """The lists in ``lang``; ``ticked`` (after a refused save) overrides stored choices."""
        options = []
        for row in self.lists:
            on = row.status in (PENDING, CONFIRMED)
            options.append(
                ListOption(
                    slug=row.slug,
                    name=_localised(row, "name", lang) or row.slug,
                    description=_localised(row, "description", lang),
                    checked=row.slug in ticked if ticked is not None else on,
                    pending=row.status == PENDING,
                )
            )
        return options


@dataclass(frozen=True)
class PreferencesForm:
    """What the preference form sent, before any check."""

    lists: tuple[str, ...]
    language: str | None
    name: str | None
    municipality: str | None
    custom: Mapping[str, str | None]


@dataclass(frozen=True)
class SaveOutcome:
    """What saving did: problems (nothing stored) or the changes made."""

    problems: dict[str, FieldProblem] = field(default_factory=dict)
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    confirmation_sent: bool = False


def read_form(form: FormMultiDict) -> PreferencesForm:
    """Collect the preference form's fields (custom fields are ``field_<key>``)."""

    def first(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    slugs = [v for v in form.getall("lists", []) if isinstance(v, str)][:MAX_FORM_VALUES]
    custom = {
        name[len(CUSTOM_PREFIX) :]: first(name)
        for name in list(form.keys())[:MAX_FORM_VALUES]
        if name.startswith(CUSTOM_PREFIX)
    }
    return PreferencesForm(
        lists=tuple(dict.fromkeys(slugs)),
        language=first("language"),
        name=first("name"),
        municipality=first("municipality"),
        custom=custom,
    )


async def load(session: AsyncSession, signer: TokenSigner, token: str) -> Preferences | None:
    """The preferences a link points at; None when no data is held (erased or purged).

    Raises InvalidLink for a tampered or foreign token.
    """
    key = read_preferences_token(signer, token)
    async with session.begin():
        return await _load(session, key, token)


async def _load(session: AsyncSession, key: str, token: str) -> Preferences | None:
    profile = await queries.get_profile_by_key(session, key)
    if profile is None:
        return None
    lists = await queries.get_preference_lists(session, profile.id)
    fields = await queries.get_public_custom_fields(session)
    return Preferences(token, profile, tuple(lists), tuple(fields))


async def save(
    session: AsyncSession,
    signer: TokenSigner,
    token: str,
    form: PreferencesForm,
    *,
    jobs: JobQueue,
    renderer: Renderer,
    settings: Settings,
    ip: str | None,
) -> tuple[Preferences | None, SaveOutcome]:
    """Check and store the form in one transaction; on any problem store nothing.

    Newly ticked lists with double opt-in become pending and get one confirmation mail;
    unticked lists are unsubscribed, and both are added to the consent record.
    """
    key = read_preferences_token(signer, token)
    async with session.begin():
        prefs = await _load(session, key, token)
        if prefs is None:
            return None, SaveOutcome()
        values, problems = _check(prefs, form)
        if problems:
            return prefs, SaveOutcome(problems=problems)
        outcome = await _apply(
            session,
            prefs,
            values,
            signer=signer,
            jobs=jobs,
            renderer=renderer,
            settings=settings,
            ip=ip,
        )
    log.info("preferences.saved", subscriber=key, added=outcome.added, removed=outcome.removed)
    return prefs, outcome


async def unsubscribe_everything(
    session: AsyncSession, signer: TokenSigner, token: str
) -> Preferences | None:
    """Unsubscribe from every list (withdrawals recorded); None when no data is held."""
    key = read_preferences_token(signer, token)
    async with session.begin():
        prefs = await _load(session, key, token)
        if prefs is None:
            return None
        now = datetime.now(UTC)
        list_ids = await queries.get_subscribed_list_ids(session, prefs.profile.id)
        if list_ids:
            await queries.unsubscribe_lists(session, prefs.profile.id, list_ids, now)
            await queries.touch_subscriber(session, prefs.profile.id, now)
            await _record_withdrawals(session, prefs.profile, list_ids, now)
            await audit.record(
                session,
                actor=audit.RESIDENT,
                action=audit.UNSUBSCRIBED,
                email=prefs.profile.email,
                details={"via": "preferences", "lists": len(list_ids)},
                now=now,
            )
    log.info("preferences.unsubscribed_all", subscriber=key, lists=len(list_ids))
    return prefs


# --- checking the form ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Values:
    name: str | None
    language: str
    municipality: str | None
    custom: dict[str, Any] | None
    wanted: frozenset[int]


def _check(prefs: Preferences, form: PreferencesForm) -> tuple[_Values, dict[str, FieldProblem]]:
    problems: dict[str, FieldProblem] = {}
    name = (form.name or "").strip() or None
    if name is not None and len(name) > MAX_NAME:
        problems["name"] = FieldProblem("too_long", str(MAX_NAME))
    elif name is not None and not _is_clean_line(name):
        problems["name"] = FieldProblem("invalid")
    language = form.language if form.language in LANGUAGES else None
    if language is None:
        problems["language"] = FieldProblem("invalid")
    municipality = (form.municipality or "").strip() or None
    if municipality is not None and municipality not in BY_ID:
        problems["municipality"] = FieldProblem("unknown")
    by_slug = {row.slug: row.id for row in prefs.lists}
    if any(slug not in by_slug for slug in form.lists):
        problems["lists"] = FieldProblem("unknown")
    custom = _check_custom(prefs, form, problems)
    values = _Values(
        name=name,
        language=language or prefs.profile.language,
        municipality=municipality,
        custom=custom,
        wanted=frozenset(by_slug[slug] for slug in form.lists if slug in by_slug),
    )
    return values, problems


def _check_custom(
    prefs: Preferences, form: PreferencesForm, problems: dict[str, FieldProblem]
) -> dict[str, Any] | None:
    # Values of fields not shown here (staff-only fields) are kept as they are.
    stored = dict(prefs.profile.custom_values or {})
    for definition in prefs.custom_fields:
        key = str(definition["key"])
        try:
            value = validate_custom_value(definition, form.custom.get(key))
        except InvalidCustomValue as exc:
            code = {"is required": "required", "must be ticked": "must_be_ticked"}
            problems[CUSTOM_PREFIX + key] = FieldProblem(code.get(exc.reason, "invalid"))
            continue
        if value is None:
            stored.pop(key, None)
        else:
            stored[key] = value
    return stored or None


def _is_clean_line(text: str) -> bool:
    return not any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


# --- storing it -------------------------------------------------------------------------------


async def _apply(
    session: AsyncSession,
    prefs: Preferences,
    values: _Values,
    *,
    signer: TokenSigner,
    jobs: JobQueue,
    renderer: Renderer,
    settings: Settings,
    ip: str | None,
) -> SaveOutcome:
    profile = prefs.profile
    now = datetime.now(UTC)
    changed = [
        name
        for name, old, new in (
            ("name", profile.name, values.name),
            ("language", profile.language, values.language),
            ("municipality", profile.municipality, values.municipality),
            ("custom_fields", profile.custom_values or None, values.custom),
        )
        if old != new
    ]
    if changed:
        await queries.update_profile(
            session,
            profile.id,
            name=values.name,
            language=values.language,
            municipality=values.municipality,
            custom_values=values.custom,
            now=now,
        )
    current = {row.id for row in prefs.lists if row.status in (PENDING, CONFIRMED)}
    removed = sorted(current - values.wanted)
    # A blocked subscriber may leave lists but not join new ones.
    added = [
        row
        for row in prefs.lists
        if row.id in values.wanted and row.id not in current and profile.status == ACTIVE
    ]
    if removed:
        await queries.unsubscribe_lists(session, profile.id, removed, now)
        await _record_withdrawals(session, profile, removed, now, language=values.language)
    sent = False
    if added:
        sent = await _join(
            session,
            profile,
            added,
            values,
            now=now,
            signer=signer,
            jobs=jobs,
            renderer=renderer,
            settings=settings,
            ip=ip,
        )
    slugs = {row.id: row.slug for row in prefs.lists}
    outcome = SaveOutcome(
        added=tuple(row.slug for row in added),
        removed=tuple(slugs[list_id] for list_id in removed),
        confirmation_sent=sent,
    )
    if changed or added or removed:
        await queries.touch_subscriber(session, profile.id, now)
        await audit.record(
            session,
            actor=audit.RESIDENT,
            action=audit.PREFERENCES_CHANGED,
            email=profile.email,
            details={
                "fields": changed,
                "added": list(outcome.added),
                "removed": list(outcome.removed),
            },
            now=now,
        )
    return outcome


async def _join(
    session: AsyncSession,
    profile: ProfileRow,
    added: Sequence[PreferenceListRow],
    values: _Values,
    *,
    now: datetime,
    signer: TokenSigner,
    jobs: JobQueue,
    renderer: Renderer,
    settings: Settings,
    ip: str | None,
) -> bool:
    """Subscribe to newly ticked lists; True when a confirmation mail was enqueued."""
    ids = [row.id for row in added]
    statuses = await queries.get_subscription_statuses(session, profile.id, ids)
    await queries.insert_pending_subscriptions(
        session, profile.id, [i for i in ids if i not in statuses], None, now
    )
    await queries.reopen_unsubscribed(session, profile.id, list(statuses), None, now)
    source = ConsentSource("preferences", ip=ip)
    await consent.record(
        session,
        profile.id,
        consent.REQUESTED,
        ids,
        source=source,
        language=values.language,
        now=now,
        record_ip=settings.record_consent_ip,
    )
    # Lists without double opt-in are joined at once: the resident is already known here.
    direct = [row.id for row in added if not row.double_optin]
    if direct:
        await queries.confirm_pending(session, profile.id, direct, now)
        await consent.record_confirmed(
            session,
            profile.id,
            direct,
            language=values.language,
            now=now,
            ip=ip,
            record_ip=settings.record_consent_ip,
        )
    needs_mail = [row for row in added if row.double_optin]
    if not needs_mail:
        return False
    mail = render_confirmation(
        renderer,
        settings,
        to=profile.email,
        subscriber_key=profile.key,
        name=values.name,
        language=values.language,
        token=sign_confirm(signer, profile.key, [row.id for row in needs_mail]),
        list_names=[_localised(row, "name", values.language) or row.slug for row in needs_mail],
        preferences_url=preferences_url(settings, sign_preferences(signer, profile.key)),
    )
    # Before the commit, as in sign-up: no pending rows whose mail was never queued.
    await enqueue_mail(jobs, mail)
    return True


async def _record_withdrawals(
    session: AsyncSession,
    profile: ProfileRow,
    list_ids: Sequence[int],
    now: datetime,
    *,
    language: str | None = None,
) -> None:
    await consent.record(
        session,
        profile.id,
        consent.WITHDRAWN,
        list_ids,
        source=ConsentSource("preferences"),
        language=language or profile.language,
        now=now,
        record_ip=False,
    )


# --- for the page -----------------------------------------------------------------------------


def municipality_groups(renderer: Renderer, lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Municipalities for a ``<select>``: (group label, [(id, name)]), Denmark then Skåne."""
    return [
        (
            renderer.gettext(lang, label),
            [(m.id, m.name) for m in MUNICIPALITIES if m.country == country],
        )
        for country, label in COUNTRY_GROUPS
    ]


def custom_field_options(
    prefs: Preferences, lang: str, raw: Mapping[str, str | None] | None = None
) -> list[dict[str, Any]]:
    """Public custom fields with their labels in ``lang`` and current (or re-shown) values."""
    stored = prefs.profile.custom_values or {}
    options = []
    for definition in prefs.custom_fields:
        key = str(definition["key"])
        value: Any = raw.get(key) if raw is not None else stored.get(key)
        options.append(
            {
                "key": key,
                "id": "field-" + key,
                "name": CUSTOM_PREFIX + key,
                "label": definition.get(f"label_{lang}") or key,
                "type": definition["type"],
                "choices": list(definition.get("choices") or []),
                "required": bool(definition["required"]),
                "max_length": definition.get("max_length"),
                "value": "" if value is None else value,
            }
        )
    return options


def problem_messages(
    renderer: Renderer, lang: str, problems: Mapping[str, FieldProblem]
) -> dict[str, str]:
    """Readable reasons per field in ``lang``, in the order the form shows the fields."""
    order = ("name", "language", "municipality", "lists")

    def position(item: tuple[str, FieldProblem]) -> int:
        return order.index(item[0]) if item[0] in order else len(order)

    messages = {}
    for name, problem in sorted(problems.items(), key=position):
        kind = "custom" if name.startswith(CUSTOM_PREFIX) else name
        message = MESSAGES.get((kind, problem.code), MESSAGES[("custom", "invalid")])
        text = renderer.gettext(lang, message)
        messages[name] = text % {"detail": problem.detail} if "%(detail)s" in text else text
    return messages


def _localised(row: PreferenceListRow, what: str, lang: str) -> str:
    value = getattr(row, f"{what}_{lang}", "") or getattr(row, f"{what}_da", "")
    return str(value or "")
