"""The figures of each case and each run, as results.json names them."""

import sys
from dataclasses import dataclass, field, fields


@dataclass
class Figures:
    """One case's figures, or one measured run's. None where not measured."""
    status: str = "failed"
    requests_per_sec: float | None = None
    requests: int | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    errors: int | None = None
    socket_errors: int | None = None
    rss_mib: float | None = None
    server_cpu_pct: float | None = None
    mariadbd_cpu_pct: float | None = None
    span_backend_cpu_pct: float | None = None
    other_load_on_server_cpu_pct: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def as_json(self, description):
        """The case in results.json: description first, no empty note, then
        the case's further figures."""
        entry = {"description": description}
        entry.update((f.name, getattr(self, f.name)) for f in fields(self) if f.name not in ("note", "extra"))
        if self.note:
            entry["note"] = self.note
        entry.update(self.extra)
        return entry


class Results:
    """Figures by name: a case (sqlite) or one run of it (telemetry-on.r1.p2)."""

    def __init__(self):
        self.figures = {}
        self.failed = False

    def __getitem__(self, name):
        return self.figures.setdefault(name, Figures())

    def status(self, name):
        return self.figures[name].status if name in self.figures else None

    def ok(self, name):
        return self.status(name) == "ok"

    def note(self, name):
        return self.figures[name].note if name in self.figures else ""

    def fail(self, name, why):
        """Marks a case or run failed, says why, and makes the bench exit 1."""
        figures = self[name]
        figures.status = "failed"
        figures.note = why
        self.failed = True
        print(f"\nbench: *** {name} FAILED: {why} ***\n", file=sys.stderr)
