"""The trail of decisions about each incoming mail, so "why was my mail refused?" has an answer."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp


class MailEvent(Base):
    __tablename__ = "mail_event"

    id: Mapped[intpk]
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    at: Mapped[timestamp]
    step: Mapped[str] = mapped_column(String(40))
    verdict: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
