"""CSV imports: one row per import with its attestation and progress, its rejected lines, and
the import a consent record came from

Revision ID: 0018_imports
Revises: 0017_archive
Create Date: 2026-11-29 17:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_imports"
down_revision: str | None = "0017_archive"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column(
            "list_id",
            Id,
            sa.ForeignKey(
                "mailing_lists.id", ondelete="CASCADE", name="fk_imports_list_id_mailing_lists"
            ),
            nullable=False,
        ),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("update_existing", sa.Boolean(), nullable=False),
        sa.Column("default_language", sa.String(2), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("consent_basis", sa.String(200), nullable=True),
        sa.Column("consent_collected", sa.String(200), nullable=True),
        sa.Column("consent_method", sa.String(500), nullable=True),
        sa.Column("attested_by", sa.String(200), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("lines_done", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_imports"),
        sa.UniqueConstraint("key", name="uq_imports_key"),
        comment="owner: subscriptions",
    )
    op.create_table(
        "import_rejects",
        sa.Column(
            "import_id",
            Id,
            sa.ForeignKey(
                "imports.id", ondelete="CASCADE", name="fk_import_rejects_import_id_imports"
            ),
            nullable=False,
        ),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("problem", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("import_id", "line", "field", name="pk_import_rejects"),
        comment="owner: subscriptions",
    )
    with op.batch_alter_table("consent_events") as batch:
        batch.add_column(
            sa.Column(
                "import_id",
                Id,
                sa.ForeignKey(
                    "imports.id", ondelete="SET NULL", name="fk_consent_events_import_id_imports"
                ),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_events") as batch:
        batch.drop_column("import_id")
    op.drop_table("import_rejects")
    op.drop_table("imports")
