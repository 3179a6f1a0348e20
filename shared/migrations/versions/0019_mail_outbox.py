"""The mail outbox: residents' mails kept until the mailer has them, so a Redis that lost its
data (FLUSHALL, a replica promoted empty) does not lose a confirmation mail

Revision ID: 0019_mail_outbox
Revises: 0018_imports
Create Date: 2026-11-29 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_mail_outbox"
down_revision: str | None = "0018_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(200), nullable=False),
        sa.Column(
            "subscriber_id",
            Id,
            sa.ForeignKey(
                "subscribers.id",
                ondelete="CASCADE",
                name="fk_mail_outbox_subscriber_id_subscribers",
            ),
            nullable=False,
        ),
        sa.Column("mail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replays", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_mail_outbox"),
        sa.UniqueConstraint("job_id", name="uq_mail_outbox_job_id"),
        comment="owner: subscriptions",
    )
    op.create_index("ix_mail_outbox_subscriber_id", "mail_outbox", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_subscriber_id", table_name="mail_outbox")
    op.drop_table("mail_outbox")
