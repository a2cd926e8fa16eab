"""Outgoing mail: composing copies, DKIM signing, and the worker that sends the outbox."""

from mailgate.outbound.compose import AttachmentFile, CopyTemplate, ListContext, compose_copy
from mailgate.outbound.dkim_sign import DkimSigner, load_signer
from mailgate.outbound.transport import (
    EmlDirectory,
    PermanentFailure,
    SmtpRelay,
    TemporaryFailure,
    Transport,
)
from mailgate.outbound.worker import OutboxWorker

__all__ = [
    "AttachmentFile",
    "CopyTemplate",
    "DkimSigner",
    "EmlDirectory",
    "ListContext",
    "OutboxWorker",
    "PermanentFailure",
    "SmtpRelay",
    "TemporaryFailure",
    "Transport",
    "compose_copy",
    "load_signer",
]
