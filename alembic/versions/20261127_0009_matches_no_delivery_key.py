"""matches: no foreign key to deliveries, one BRIN index for papers and age

Checking the delivery key cost about a fifth of writing a match, and a second BRIN index as
much again; nothing reads matches by digest. A pruned digest now leaves its matches taken
(they were made untaken before, which only let old papers be planned again).

Revision ID: 0009_matches
Revises: 0008_matches
Create Date: 2026-11-27 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_matches"
down_revision: str | None = "0008_matches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TAKEN = sa.text("delivery_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_matches_delivery_id", table_name="matches")
    op.drop_index("ix_matches_created_at", table_name="matches")
    op.drop_index("ix_matches_paper_id", table_name="matches")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_constraint("fk_matches_delivery_id_deliveries", type_="foreignkey")
    op.create_index(
        "ix_matches_paper_id_created_at",
        "matches",
        ["paper_id", "created_at"],
        postgresql_using="brin",
    )


def downgrade() -> None:
    op.execute(
        "UPDATE matches SET delivery_id = NULL WHERE delivery_id IS NOT NULL "
        "AND delivery_id NOT IN (SELECT id FROM deliveries)"
    )
    op.drop_index("ix_matches_paper_id_created_at", table_name="matches")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_matches_delivery_id_deliveries",
            "deliveries",
            ["delivery_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_matches_paper_id", "matches", ["paper_id"], postgresql_using="brin")
    op.create_index("ix_matches_created_at", "matches", ["created_at"], postgresql_using="brin")
    op.create_index(
        "ix_matches_delivery_id",
        "matches",
        ["delivery_id"],
        postgresql_where=_TAKEN,
        sqlite_where=_TAKEN,
    )
