"""Members: people at public-sector organisations who post and receive mail."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, intpk, timestamp

if TYPE_CHECKING:
    from models.organization import Organization


class Member(Base):
    __tablename__ = "member"

    id: Mapped[intpk]
    # None once the member has asked to be forgotten (GDPR Art. 17); the row stays so that
    # their posts keep their organisation.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[timestamp]
    confirmed_at: Mapped[datetime | None]
    forgotten_at: Mapped[datetime | None]
    bounce_score: Mapped[float] = mapped_column(default=0.0)
    last_bounce_at: Mapped[datetime | None]
    delivery_disabled_at: Mapped[datetime | None]

    organization: Mapped[Organization | None] = relationship()

    @property
    def display_name(self) -> str:
        if self.forgotten_at is not None:
            return "borttagen medlem"
        return self.name or (self.email or "").split("@")[0]
