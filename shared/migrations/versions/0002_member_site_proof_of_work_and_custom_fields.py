"""member sites: require_proof_of_work and municipality ids; custom_fields table

Revision ID: 0002_sites_custom_fields
Revises: 0001
Create Date: 2026-11-28 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.municipalities import find_municipality

revision: str = '0002_sites_custom_fields'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not batch mode: on SQLite a batch would copy and drop member_sites,
    # and with foreign keys on, that drop sets every subscriber's source_site_id to NULL.
    op.add_column('member_sites', sa.Column('require_proof_of_work', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table('custom_fields',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('label_da', sa.String(length=200), nullable=False),
    sa.Column('label_sv', sa.String(length=200), nullable=False),
    sa.Column('label_en', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('max_length', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custom_fields')),
    sa.UniqueConstraint('key', name=op.f('uq_custom_fields_key')),
    comment='owner: campaigns'
    )

    # Sites stored before this revision may name their municipality ("København"); the API
    # now stores the stable id ("dk-koebenhavn").
    sites = sa.table('member_sites', sa.column('id', sa.Integer()), sa.column('municipality', sa.String()))
    connection = op.get_bind()
    for site_id, value in connection.execute(sa.select(sites.c.id, sites.c.municipality)).all():
        found = find_municipality(value) if value else None
        if found is not None and found.id != value:
            connection.execute(sa.update(sites).where(sites.c.id == site_id).values(municipality=found.id))


def downgrade() -> None:
    op.drop_table('custom_fields')
    # Plain DROP COLUMN (SQLite 3.35+) for the same reason as the plain ADD COLUMN above.
    op.drop_column('member_sites', 'require_proof_of_work')
