"""What `headwater doctor` found: findings ranked by risk, and the exit code they add up to.

Severities, most urgent first:

    CRITICAL  records are being lost or sit on a single copy now: offline partitions, fewer in-sync
              copies than min.insync.replicas, replication factor 1 on a cluster
    HIGH      the durability promise is broken by configuration: one broker or zone failure can lose
              acknowledged records or stop every write (RF 2, min ISR 1 or >= RF, unclean leader
              election on, a partition under-replicated now, producers not acks=all + idempotent)
    MEDIUM    weaker than promised, nothing lost by one failure: replicas not spread over zones,
              brokers without racks, a single node (it cannot replicate), fsync left to a timer
    INFO      how the setup behaves, for the record
    OK        checked, and as promised

Exit code: 1 when anything is CRITICAL or HIGH, else 0 (a single node, MEDIUM at worst, exits 0).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

EXIT_AT_RISK = 1


class Severity(enum.IntEnum):
    """Lower is more urgent (sorting puts it first)."""

    CRITICAL = 0
    HIGH = 1
    MEDIUM = 2
    INFO = 3
    OK = 4


@dataclass(frozen=True, slots=True)
class Finding:
    """One verdict: about what (`subject`, e.g. "topic clickstream.events"), which check, what is
    wrong or right, and the exact change that fixes it (a command, a setting, a headwater flag)."""

    severity: Severity
    subject: str
    check: str
    message: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """Every finding of one run, most urgent first (stable within a severity)."""

    broker: str
    summary: str  # one line about the cluster: id, brokers, racks
    findings: tuple[Finding, ...]

    @classmethod
    def of(cls, broker: str, summary: str, findings: Iterable[Finding]) -> Report:
        return cls(broker, summary, tuple(sorted(findings, key=lambda f: f.severity)))

    @property
    def exit_code(self) -> int:
        """0, or 1 when anything is CRITICAL or HIGH (the module docstring)."""
        at_risk = any(f.severity <= Severity.HIGH for f in self.findings)
        return EXIT_AT_RISK if at_risk else 0

    def counts(self) -> dict[str, int]:
        found = Counter(f.severity for f in self.findings)
        return {s.name.lower(): found.get(s, 0) for s in Severity}
