"""Run a table of steps in order until one of them decides."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from mailgate.context import MailContext
from mailgate.steps.hold import hold_post
from mailgate.verdict import Accept, Hold, Verdict

Step: TypeAlias = Callable[[MailContext], Verdict | None]


def run_steps(ctx: MailContext, steps: tuple[Step, ...]) -> Verdict:
    """The first verdict a step gives; a Hold keeps the mail. No verdict at all means Accept."""
    for step in steps:
        verdict = step(ctx)
        if isinstance(verdict, Hold) and ctx.post_id is None:
            return hold_post(ctx, verdict)
        if verdict is not None:
            return verdict
    return Accept()
