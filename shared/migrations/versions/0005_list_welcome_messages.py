"""mailing lists: optional welcome subject and body per language

Revision ID: 0005_list_welcome
Revises: 0004_deliveries_status_updated
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_list_welcome'
down_revision: str | None = '0004_deliveries_status_updated'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LANGUAGES = ('da', 'sv', 'en')


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: a batch would copy and drop mailing_lists on SQLite,
    # and with foreign keys on that drop would cascade into subscriptions.
    for lang in _LANGUAGES:
        op.add_column('mailing_lists', sa.Column(f'welcome_subject_{lang}', sa.String(length=998), nullable=True))
    for lang in _LANGUAGES:
        op.add_column('mailing_lists', sa.Column(f'welcome_body_{lang}', sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+) for the same reason.
    for lang in _LANGUAGES:
        op.drop_column('mailing_lists', f'welcome_body_{lang}')
    for lang in _LANGUAGES:
        op.drop_column('mailing_lists', f'welcome_subject_{lang}')
