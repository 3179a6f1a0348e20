"""Settings are validated at start-up with one clear message per bad variable."""

from __future__ import annotations

import pytest

from shared.errors import SettingsError
from shared.settings import Settings, SmtpSettings

KEY = "k" * 32


def test_defaults_with_only_secret_keys() -> None:
    settings = Settings.from_env({"BREVDUE_SECRET_KEYS": KEY})
    assert settings.database_url.startswith("sqlite+aiosqlite://")
    assert settings.smtp.host == "127.0.0.1" and settings.smtp.port == 1025
    assert len(settings.secret_keys) == 1


def test_secret_keys_required_and_rotation_order_kept() -> None:
    with pytest.raises(SettingsError, match="BREVDUE_SECRET_KEYS"):
        Settings.from_env({})
    settings = Settings.from_env({"BREVDUE_SECRET_KEYS": f"{'a' * 20}, {'b' * 20}"})
    assert [k.reveal() for k in settings.secret_keys] == ["a" * 20, "b" * 20]


def test_the_age_of_digital_consent_is_configurable() -> None:
    assert Settings.from_env({"BREVDUE_SECRET_KEYS": KEY}).age_of_digital_consent == 13
    sixteen = {"BREVDUE_SECRET_KEYS": KEY, "BREVDUE_AGE_OF_DIGITAL_CONSENT": "16"}
    assert Settings.from_env(sixteen).age_of_digital_consent == 16
    with pytest.raises(SettingsError, match="BREVDUE_AGE_OF_DIGITAL_CONSENT"):
        Settings.from_env({"BREVDUE_SECRET_KEYS": KEY, "BREVDUE_AGE_OF_DIGITAL_CONSENT": "-1"})


def test_secrets_never_print() -> None:
    settings = Settings.from_env(
        {"BREVDUE_SECRET_KEYS": KEY, "BREVDUE_SMTP_URL": "smtp://user:hunter2hunter2@relay:587"}
    )
    assert KEY not in repr(settings)
    assert "hunter2" not in repr(settings)
    assert settings.smtp.password.reveal() == "hunter2hunter2"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("SMTP_URL", "http://relay"),
        ("SMTP_URL", "smtp://relay:notaport"),
        ("SMTP_URL", "smtp://relay?starttls=maybe"),
        ("SUBSCRIPTIONS_PUBLIC_URL", "not a url"),
        ("MAIL_FROM", "no-at-sign"),
        ("CONFIRM_TOKEN_MAX_AGE", "-5"),
        ("LOG_FORMAT", "xml"),
        ("PROOF_OF_WORK_WITHOUT_SITE", "sometimes"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"BREVDUE_SECRET_KEYS": KEY, f"BREVDUE_{name}": value})
    assert info.value.variable == f"BREVDUE_{name}"


def test_proof_of_work_without_site_defaults_to_following_the_sites() -> None:
    assert Settings.from_env({"BREVDUE_SECRET_KEYS": KEY}).proof_of_work_without_site == "sites"
    for value in ("off", "sites", "always", "ALWAYS"):
        settings = Settings.from_env(
            {"BREVDUE_SECRET_KEYS": KEY, "BREVDUE_PROOF_OF_WORK_WITHOUT_SITE": value}
        )
        assert settings.proof_of_work_without_site == value.lower()


def test_smtp_url_forms() -> None:
    implicit = SmtpSettings.from_url("smtps://u%40x:p@mail.example.org")
    assert implicit.use_tls and implicit.port == 465 and implicit.username == "u@x"
    required = SmtpSettings.from_url("smtp://mail.example.org:587?starttls=required")
    assert required.start_tls == "required" and not required.use_tls


def test_credentials_make_starttls_required_unless_the_relay_is_local_or_tls_is_off() -> None:
    # "auto" would send the password in plain text to a relay that does not offer STARTTLS.
    assert SmtpSettings.from_url("smtp://u:p@mail.example.org:587").start_tls == "required"
    assert SmtpSettings.from_url("smtp://mail.example.org:587").start_tls == "auto"
    assert SmtpSettings.from_url("smtp://u:p@127.0.0.1:1025").start_tls == "auto"
    assert SmtpSettings.from_url("smtp://u:p@localhost:1025").start_tls == "auto"
    assert SmtpSettings.from_url("smtp://u:p@[::1]:1025").start_tls == "auto"
    assert SmtpSettings.from_url("smtp://u:p@relay.internal?starttls=off").start_tls == "off"
