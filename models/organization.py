"""Public-sector organisations and the email domains that belong to them."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, intpk


class Organization(Base):
    __tablename__ = "organization"

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(40), default="")
    county: Mapped[str] = mapped_column(String(80), default="")

    domains: Mapped[list[OrgDomain]] = relationship(
        back_populates="organization", cascade="all, delete-orphan"
    )


class OrgDomain(Base):
    __tablename__ = "org_domain"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )

    organization: Mapped[Organization] = relationship(back_populates="domains")
