"""The forum's tables and the public-sector registry; imports nothing else of delapost."""

from models.base import Base, utcnow
from models.digest_run import DigestRun
from models.mail_event import MailEvent
from models.member import Member
from models.organization import Organization, OrgDomain
from models.outbox import Outbox, OutboxKind, OutboxStatus
from models.pending import Confirmation, ConfirmationKind, HeldPost, HeldStatus
from models.post import Attachment, Blob, Post, RawMessage, Tag, Thread, thread_tag
from models.topic import FollowState, Mode, Subscription, ThreadFollow, Topic, TopicOwner

# Last: its ORM events keep the search index current wherever posts are written.
from models import search  # isort: skip

__all__ = [
    "Attachment",
    "Base",
    "Blob",
    "Confirmation",
    "ConfirmationKind",
    "DigestRun",
    "FollowState",
    "HeldPost",
    "HeldStatus",
    "MailEvent",
    "Member",
    "Mode",
    "OrgDomain",
    "Organization",
    "Outbox",
    "OutboxKind",
    "OutboxStatus",
    "Post",
    "RawMessage",
    "Subscription",
    "Tag",
    "Thread",
    "ThreadFollow",
    "Topic",
    "TopicOwner",
    "search",
    "thread_tag",
    "utcnow",
]
