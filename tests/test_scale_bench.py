"""The webhook-worker benchmark (bench/scale.py): its arithmetic, its report, and a tiny run
of the real ``python -m bot run --webhook`` process on PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import scale
from bench.databases import migrated_postgres
from bench.stats import spread_ms
from bench.throughput import BENCH_DATA_KEY
from storage import crypto


def _run(workers: int, per_second_updates: int, seconds: float, notes: int) -> scale.WorkerRun:
    return scale.WorkerRun(
        workers=workers,
        members=4,
        rounds=1,
        updates=per_second_updates,
        seconds=seconds,
        service=spread_ms([0.01, 0.02]),
        bot_cpu_seconds=seconds / 2,
        driver_cpu_seconds=0.1,
        failures=[],
        unconfirmed=0,
        notes_expected=4,
        notes_saved=notes,
        statuses={"200": per_second_updates},
    )


def test_the_best_run_is_the_one_with_most_updates_per_second_and_losses_fail() -> None:
    result = scale.ScaleResult(cores={"cpu_count": 8, "sched_getaffinity": 2})
    result.runs = [_run(1, 100, 2.0, 4), _run(2, 300, 2.0, 4), _run(4, 200, 2.0, 4)]

    assert result.best is result.runs[1]
    assert result.runs[1].per_second == 150.0
    assert result.runs[1].per_core_second == 300.0
    assert result.failed is False
    assert [check["met"] for check in scale.targets(result)] == [True, True, True]
    shown = result.as_dict()
    assert shown["best_workers"] == 2
    assert shown["cores"] == {"cpu_count": 8, "sched_getaffinity": 2}
    assert "os.cpu_count 8, sched_getaffinity 2" in scale.render(result)
    assert " 150.0 updates/s" in scale.render(result)

    assert scale.per_row({}, "note") is None
    result.runs.append(_run(1, 20, 1.0, 3))  # a note missing
    assert result.failed is True
    assert scale.targets(result)[-1]["met"] is False


def test_cores_are_what_the_os_says() -> None:
    assert scale.cores() == {
        "cpu_count": os.cpu_count(),
        "sched_getaffinity": len(os.sched_getaffinity(0)),
    }


async def test_a_tiny_run_saves_every_note_once_with_two_workers(
    postgres_url: str, tmp_path: Path
) -> None:
    # The bot processes get the benchmark's data key; seed with the same one.
    crypto.configure([BENCH_DATA_KEY])
    options = scale.ScaleOptions(
        members=4,
        rounds=1,
        warmup=1,
        worker_counts=(2,),
        rates=(10.0,),
        seconds=1.0,
        steady_members=4,
        footprint_notes=100,
    )
    result = await scale.run_scale(
        postgres_url=postgres_url,
        options=options,
        work=tmp_path,
        seed=3,
        migrated=migrated_postgres,
    )

    (run,) = result.runs
    assert run.workers == 2
    assert (run.notes_saved, run.notes_expected) == (4, 4)
    assert run.updates == 4 * 5  # five updates per note flow
    assert run.statuses == {"200": 20}
    assert run.failures == [] and run.unconfirmed == 0
    assert run.per_second == pytest.approx(run.updates / run.seconds)
    (steady,) = result.steady
    assert steady.workers == 2
    assert steady.updates == 10 and steady.statuses == {"200": 10}
    assert steady.response.count == 10
    assert steady.response.p99 >= steady.service.p50 > 0
    assert result.failed is False
    # every processed update recorded once; the bulk notes counted and sized
    assert result.updates_footprint["processed_update"]["rows"] == 10
    assert result.footprint["note"]["rows"] == 100
    note_bytes = scale.per_row(result.footprint, "note")
    assert note_bytes is not None and note_bytes > 100
