"""bot.memory.settle: what startup left alive is set aside for the collector, and what is
made later is still collected. In a child process: a freeze would outlive this test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import gc, weakref
import bot.app  # what a bot process imports before it starts
from bot import memory

memory.settle()
frozen = gc.get_freeze_count()

class Node:
    pass

first, second = Node(), Node()
first.other, second.other = second, first  # a cycle: only the collector frees it
gone = weakref.ref(first)
del first, second
gc.collect()
print(frozen, gone() is None, gc.get_freeze_count() == frozen)
"""


def test_settle_sets_startup_aside_and_later_garbage_is_still_collected() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    frozen, collected, unchanged = result.stdout.split()
    # Modules, classes and mappings: tens of thousands of objects, none of them walked again.
    assert int(frozen) > 50_000
    # A cycle made after startup is freed as before, and is not frozen with the rest.
    assert collected == "True" and unchanged == "True"
