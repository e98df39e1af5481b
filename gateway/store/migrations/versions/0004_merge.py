"""Merge the two revisions that both follow 0002_outbound (Invoice Responses and AS4).

Revision ID: 0004_merge
Revises: 0003_responses, 0003_as4
"""

from __future__ import annotations

revision = "0004_merge"
down_revision = ("0003_responses", "0003_as4")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: this revision only gives the history a single head again."""


def downgrade() -> None:
    """Nothing to undo."""
