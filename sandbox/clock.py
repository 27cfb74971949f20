"""The sandbox's clock, and its fast-forward.

Everything in stemme reads the time through ``storage.db.utcnow``; the sandbox moves that
clock ahead (``storage.db.move_clock_ahead``) so that what waits for a time (shift
handovers, the agenda two days before a meeting, reminders, trial check-ins, the pulse's
reminder and result) can be seen at once instead of after days. After each move the bot
catches up: the scheduler's planning jobs run with the new time and the prompt dispatcher
is woken, so every prompt now due goes out.

Only the sandbox builds a :class:`FastForward`; ``stemme run`` has none and no endpoint to
reach one, and the clock never moves back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from storage import agenda, meetings, prompts
from storage.db import move_clock_ahead, session_scope, utcnow

logger = logging.getLogger(__name__)

# The steps the page offers, by name.
STEPS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
}
# "meeting": the next notice of a meeting (the lead's preparation, the agenda two days
# before, the day before, the hour before, the minutes); "next": whatever is due next.
MEETING_KINDS = (*meetings.KINDS, agenda.KIND_AGENDA)
# A moment past the due time, so that the prompt is due when the dispatcher looks.
PAST_DUE = timedelta(seconds=1)


class FastForward:
    """Moves the sandbox's clock ahead and lets the bot catch up (see the module docstring).

    ``catch_up`` runs after every move: it plans with the new time and wakes the prompt
    dispatcher (``sandbox.run`` gives it).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        catch_up: Callable[[], Awaitable[None]],
        team_id: int | None = None,
    ) -> None:
        self.engine = engine
        self.team_id = team_id
        self._catch_up = catch_up

    def now(self) -> datetime:
        """The sandbox's time (UTC)."""
        return utcnow()

    async def advance(self, delta: timedelta) -> datetime:
        """Moves the clock ``delta`` ahead; returns the new time."""
        ahead = move_clock_ahead(delta)
        logger.info("Sandbox clock moved %s ahead (%s ahead of real time)", delta, ahead)
        await self._catch_up()
        return utcnow()

    async def step(self, name: str) -> datetime | None:
        """Moves by a named step ("hour", "day", "week", "next", "meeting"); returns the new
        time, or None when there is nothing ahead to move to (the clock stays)."""
        if name in STEPS:
            return await self.advance(STEPS[name])
        if name == "next":
            return await self.to_next()
        if name == "meeting":
            return await self.to_next(MEETING_KINDS)
        raise ValueError(f"unknown step {name!r}")

    def next_due(self, kinds: Collection[str] = ()) -> datetime | None:
        """When the next pending prompt (of ``kinds``) is due, if any."""
        with session_scope(self.engine) as session:
            found = prompts.next_pending(
                session=session, after=utcnow(), team_id=self.team_id, kinds=kinds
            )
            return found.due_at if found else None

    async def to_next(self, kinds: Collection[str] = ()) -> datetime | None:
        """Moves to just after the next pending prompt (of ``kinds``) is due."""
        due = self.next_due(kinds)
        if due is None:
            return None
        return await self.advance(max(due - utcnow(), timedelta(0)) + PAST_DUE)
