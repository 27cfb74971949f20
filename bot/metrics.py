"""Counters a monitoring system scrapes at ``/metrics``, in Prometheus' text format.

One set per process: with several webhook workers each one is scraped on its own
(``STEMME_LISTEN`` differs per worker, or the scrape goes to each behind the proxy) and
Prometheus adds them up. Incremented where things happen: the router (updates), the
error handler (handler errors), the dispatcher (prompts, queue delay) and the Bot API
request (Telegram errors by kind). Labels hold kinds and statuses only, never ids.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labels = tuple(labels)
        self._lock = threading.Lock()

    def _key(self, values: dict[str, str]) -> tuple[str, ...]:
        if set(values) != set(self.labels):
            raise ValueError(f"{self.name} takes the labels {self.labels}")
        return tuple(str(values[label]) for label in self.labels)

    def _label_text(self, key: tuple[str, ...], extra: str = "") -> str:
        parts = [
            f'{label}="{_escape(value)}"' for label, value in zip(self.labels, key, strict=True)
        ]
        if extra:
            parts.append(extra)
        return "{" + ",".join(parts) + "}" if parts else ""

    def samples(self) -> Iterable[str]:
        """The sample lines of this metric."""
        raise NotImplementedError

    def render(self) -> str:
        """HELP, TYPE and the samples."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        lines.extend(self.samples())
        return "\n".join(lines) + "\n"


class Counter(_Metric):
    """A number that only goes up, per combination of label values."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1, **labels: str) -> None:
        """Adds ``amount`` for these label values."""
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def value(self, **labels: str) -> float:
        """The current value for these label values (0 when never incremented)."""
        return self._values.get(self._key(labels), 0)

    def samples(self) -> Iterable[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{self._label_text(key)} {_number(value)}" for key, value in items]


class Histogram(_Metric):
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        super().__init__(name, help_text)
        self.buckets = sorted(buckets)
        self._counts = [0] * len(self.buckets)
        self._sum = 0.0
        self._count = 0

    def observe(self, value: float) -> None:
        """Counts one observation."""
        with self._lock:
            self._sum += value
            self._count += 1
            for index, bound in enumerate(self.buckets):
                if value <= bound:
                    self._counts[index] += 1

    @property
    def count(self) -> int:
        """How many observations there were."""
        return self._count

    def samples(self) -> Iterable[str]:
        with self._lock:
            counts, total, count = list(self._counts), self._sum, self._count
        lines = [
            f'{self.name}_bucket{{le="{_number(bound)}"}} {n}'
            for bound, n in zip(self.buckets, counts, strict=True)
        ]
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {count}')
        lines.append(f"{self.name}_sum {_number(total)}")
        lines.append(f"{self.name}_count {count}")
        return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


UPDATES = Counter(
    "stemme_updates_total",
    "Updates the router received, by outcome: handled, failed, unreachable (the user "
    "blocked the bot), duplicate (a redelivery, skipped), retry (the database was "
    "unavailable; delivered again).",
    ["outcome"],
)
HANDLER_ERRORS = Counter(
    "stemme_handler_errors_total", "Errors while handling an update, by error type.", ["type"]
)
PROMPTS = Counter(
    "stemme_prompts_total",
    "Timed prompts the dispatcher handled, by kind and status: sent, postponed, "
    "unreachable, failed (retried later unless it was the last attempt).",
    ["kind", "status"],
)
TELEGRAM_ERRORS = Counter(
    "stemme_telegram_errors_total",
    "Bot API calls that failed, by kind: RetryAfter, Forbidden, BadRequest, ChatMigrated, "
    "5xx, TimedOut, NetworkError.",
    ["kind"],
)
TELEGRAM_RETRIES = Counter(
    "stemme_telegram_retries_total", "Bot API calls repeated after a fault, by kind.", ["kind"]
)
QUEUE_DELAY = Histogram(
    "stemme_prompt_queue_delay_seconds",
    "Seconds between a prompt's due time and its sending.",
    [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
)
WEBHOOK_REQUESTS = Counter(
    "stemme_webhook_requests_total", "Webhook requests, by HTTP status answered.", ["status"]
)

ALL: tuple[_Metric, ...] = (
    UPDATES,
    HANDLER_ERRORS,
    PROMPTS,
    TELEGRAM_ERRORS,
    TELEGRAM_RETRIES,
    QUEUE_DELAY,
    WEBHOOK_REQUESTS,
)


def render() -> str:
    """Every metric in Prometheus' text exposition format."""
    return "".join(metric.render() for metric in ALL)


class RouterOutcomes:
    """The router's outcomes (``flows.core.engine.Outcomes``) counted in ``UPDATES`` and
    ``HANDLER_ERRORS``."""

    def update(self, outcome: str) -> None:
        """One update, by what became of it."""
        UPDATES.inc(outcome=outcome)

    def handler_error(self, error_type: str) -> None:
        """A step that failed, by its error's type."""
        HANDLER_ERRORS.inc(type=error_type)
