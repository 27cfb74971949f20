"""Placeholder wiring for the agenda flow: filled in by the work on issues 4 to 6."""

from __future__ import annotations

from bot.prompts import Renderer
from flows.engine import Flow


def build_flow() -> Flow:
    """The agenda flow (no steps yet)."""
    return Flow(name="agenda", entry_points=[])


def renderers() -> dict[str, Renderer]:
    """The timed prompt kinds this flow sends (none yet)."""
    return {}
