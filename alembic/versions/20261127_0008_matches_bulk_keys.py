"""matches keyed by (subscriber, paper), without foreign keys to subscribers and papers

The surrogate id and its sequence go, the unique (subscriber, paper) index becomes the primary
key; papers are found by a BRIN index, old rows by a BRIN index on created_at, taken matches by
a partial index on delivery_id. Erasing a subscriber and pruning papers delete their matches
explicitly (service.track.events, service.pipeline.retention).

Revision ID: 0008_matches
Revises: 0007_match
Create Date: 2026-11-27 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_matches"
down_revision: str | None = "0007_match"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TAKEN = sa.text("delivery_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index("ix_matches_paper_id")
        batch_op.drop_index("ix_matches_delivery_id")
        batch_op.drop_constraint("fk_matches_subscriber_id_subscribers", type_="foreignkey")
        batch_op.drop_constraint("fk_matches_paper_id_papers", type_="foreignkey")
        batch_op.drop_constraint("uq_matches_subscriber_id_paper_id", type_="unique")
        batch_op.drop_constraint("pk_matches", type_="primary")
        batch_op.drop_column("id")
        batch_op.create_primary_key("pk_matches", ["subscriber_id", "paper_id"])
    op.create_index("ix_matches_paper_id", "matches", ["paper_id"], postgresql_using="brin")
    op.create_index("ix_matches_created_at", "matches", ["created_at"], postgresql_using="brin")
    op.create_index(
        "ix_matches_delivery_id",
        "matches",
        ["delivery_id"],
        postgresql_where=_TAKEN,
        sqlite_where=_TAKEN,
    )


def downgrade() -> None:
    # Matches of erased subscribers or pruned papers cannot stay under the foreign keys.
    op.execute("DELETE FROM matches WHERE subscriber_id NOT IN (SELECT id FROM subscribers)")
    op.execute("DELETE FROM matches WHERE paper_id NOT IN (SELECT id FROM papers)")
    op.drop_index("ix_matches_delivery_id", table_name="matches")
    op.drop_index("ix_matches_created_at", table_name="matches")
    op.drop_index("ix_matches_paper_id", table_name="matches")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_constraint("pk_matches", type_="primary")
        numbered = [sa.Identity()] if op.get_context().dialect.name == "postgresql" else []
        batch_op.add_column(
            sa.Column(
                "id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                *numbered,
                nullable=False,
            )
        )
        batch_op.create_primary_key("pk_matches", ["id"])
        batch_op.create_unique_constraint(
            "uq_matches_subscriber_id_paper_id", ["subscriber_id", "paper_id"]
        )
        batch_op.create_foreign_key(
            "fk_matches_subscriber_id_subscribers",
            "subscribers",
            ["subscriber_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            "fk_matches_paper_id_papers", "papers", ["paper_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_matches_paper_id", ["paper_id"], unique=False)
        batch_op.create_index("ix_matches_delivery_id", ["delivery_id"], unique=False)
