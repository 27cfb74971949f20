"""Placeholder wiring for the case flow: filled in by the work on issues 4 to 6."""

from __future__ import annotations

from bot.prompts import Renderer
from flows.engine import Flow


def build_flow() -> Flow:
    """The case flow (no steps yet)."""
    return Flow(name="case", entry_points=[])


def renderers() -> dict[str, Renderer]:
    """The timed prompt kinds this flow sends (none yet)."""
    return {}
