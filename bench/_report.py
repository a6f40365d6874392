"""Turns the results of a run into rich tables; the one place that prints them."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

THROUGHPUT_ROWS = [
    ("produce 1p", "raw", "produce"),
    ("produce 6p", "raw", "produce"),
    ("consume 1p", "raw", "consume"),
    ("consume 6p", "raw", "consume"),
    ("produce 6p librdkafka", "librdkafka", None),
    ("consume 6p librdkafka", "librdkafka", None),
    ("produce 6p kcat", "kcat", None),
    ("consume 6p kcat", "kcat", None),
]


#: How the title names each peer: what it stores, and how.
PEER_LABELS = {
    "tansu": "tansu (memory://)",
    "kafka": "Apache Kafka (1 KRaft node, fsync as --flush)",
}


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def _get(report: dict[str, Any], broker: str, scenario: str, key: str) -> float | None:
    row = report["results"].get(broker, {}).get(scenario)
    return None if row is None else row.get(key)


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else ("[green]yes[/]" if ok else "[red]no[/]")


def throughput_table(report: dict[str, Any], brokers: list[str]) -> Table:
    """A rate column per broker and the first broker's ratio over each of the others; the
    targets are judged on the first broker's rate and its ratio over the second."""
    hw, others = brokers[0], brokers[1:]
    base = others[0] if others else None
    targets = report["targets"]
    s = report["settings"]
    peers = ", ".join(PEER_LABELS.get(b, b) for b in others)
    table = Table(
        title=f"Embedded broker: {hw} (--flush {s['flush']}) vs {peers or 'nothing'}, "
        f"100-byte records, acks=all, idempotent, {s['records']:,} records a scenario",
    )
    columns = ["scenario", "client"]
    for b in brokers:
        columns += [f"{b} rec/s", "MB/s"]
    columns += [f"{hw}/{b}" for b in others] + ["target", "met"]
    for col in columns:
        left = col in ("scenario", "client", "target")
        table.add_column(col, justify="left" if left else "right", no_wrap=col == "scenario")
    for scenario, client, kind in THROUGHPUT_ROWS:
        rates = [_get(report, b, scenario, "records_per_s") for b in brokers]
        if all(r is None for r in rates):
            continue
        a = rates[0]
        ratios = [a / r if a and r else None for r in rates[1:]]
        target, met = "", "-"
        if kind and a is not None:
            need = targets[kind]
            target = f">= {need:,} rec/s, >= {targets['ratio']:.1f}x {base}"
            rate_ok = a >= need
            ratio_ok = not ratios or ratios[0] is None or ratios[0] >= targets["ratio"]
            met = {
                (True, True): "[green]yes[/]",
                (True, False): "[yellow]rate only[/]",
                (False, True): "[yellow]ratio only[/]",
                (False, False): "[red]no[/]",
            }[rate_ok, ratio_ok]
        cells = []
        for b, rate in zip(brokers, rates, strict=True):
            cells += [_num(rate), _num(_get(report, b, scenario, "mb_per_s"), "{:,.1f}")]
        table.add_row(scenario, client, *cells, *(_num(r, "{:.2f}x") for r in ratios), target, met)
    rate = s["latency_rate"]
    for scenario, client in (("latency", "librdkafka"), ("latency raw", "raw")):
        for q in ("p50", "p99", "p999"):
            values = [_get(report, b, scenario, f"{q}_ms") for b in brokers]
            if all(v is None for v in values):
                continue
            a = values[0]
            target, met = "", None
            if q == "p99" and a is not None:
                target = f"<= {targets['p99_ms']:.0f} ms"
                met = a <= targets["p99_ms"]
            cells = []
            for v in values:
                cells += [_num(v, "{:.2f} ms"), ""]
            ratios = [_num(a / v if a and v else None, "{:.2f}x") for v in values[1:]]
            table.add_row(
                f"produce latency {q} @ {rate:,}/s", client, *cells, *ratios, target, _mark(met)
            )
    return table


def cpu_table(report: dict[str, Any], brokers: list[str]) -> Table:
    table = Table(title="Where the CPU went (cores = CPU seconds per second of the scenario)")
    table.add_column("scenario", no_wrap=True)
    for b in brokers:
        table.add_column(f"{b} cores", justify="right")
        table.add_column(f"{b} us/rec", justify="right")
        table.add_column(f"{b} wire MB/s", justify="right")
    table.add_column("client us/rec", justify="right")
    table.add_column("client procs", justify="right")
    table.add_column("other load", justify="right")
    scenarios = [r[0] for r in THROUGHPUT_ROWS] + ["latency", "latency raw"]
    for scenario in scenarios:
        cells, client, procs, other = [], None, None, None
        for b in brokers:
            cells += [
                _num(_get(report, b, scenario, "broker_cores"), "{:.2f}"),
                _num(_get(report, b, scenario, "broker_us_per_record"), "{:.2f}"),
                _num(_get(report, b, scenario, "wire_mb_per_s"), "{:,.0f}"),
            ]
            client = client or _get(report, b, scenario, "client_us_per_record")
            procs = procs or _get(report, b, scenario, "client_processes")
            load = _get(report, b, scenario, "other_cores")
            other = load if other is None or (load is not None and load > other) else other
        if all(c == "-" for c in cells):
            continue
        table.add_row(scenario, *cells, _num(client, "{:.2f}"), _num(procs), _num(other, "{:.2f}"))
    return table


def notes(report: dict[str, Any], brokers: list[str]) -> list[str]:
    lines = []
    disk = report.get("disk") or {}
    if disk:
        lines.append(
            f"Disk, raw sequential write of {disk['bytes'] / 1e6:,.0f} MB (the produce-6p bytes) "
            f"in 8 MB os.write calls, {disk['directory']}: {disk['mb_per_s_no_fsync']:,.0f} MB/s "
            f"without fsync (page cache), {disk['mb_per_s_fsync']:,.0f} MB/s with a final fsync."
        )
    raw = librd = kcat = None
    for b in brokers:
        raw = raw or _get(report, b, "produce 6p", "client_us_per_record")
        librd = librd or _get(report, b, "produce 6p librdkafka", "client_us_per_record")
        kcat = kcat or _get(report, b, "produce 6p kcat", "client_us_per_record")
    if raw:
        others = []
        if librd:
            others.append(f"librdkafka produce_batch {librd:.2f} us ({librd / raw:,.0f}x)")
        if kcat:
            others.append(f"kcat -P -l FILE {kcat:.2f} us ({kcat / raw:,.0f}x)")
        lines.append(
            f"Client choice: the rated rows use the raw client, {raw:.3f} us CPU a produced "
            f"record, against {', '.join(others) or 'nothing else measured'}: on 2 shared cores "
            "every client microsecond is taken from the broker. kcat probe: "
            f"{report.get('kcat') or 'not run'}."
        )
    for b in brokers:
        for scenario in ("latency", "latency raw"):
            row = report["results"].get(b, {}).get(scenario) or {}
            if row.get("note"):
                lines.append(f"Pacing, {scenario} on {b}: {row['note']}.")
            runs = row.get("runs", [])
            if len(runs) > 1:
                p99s = ", ".join(f"{r['p99_ms']:.2f}" for r in runs)
                lines.append(f"  p99 of each run (ms), best shown above: {p99s}.")
    for what, err in report.get("failures", {}).items():
        lines.append(f"[red]FAILED[/] {what}: {err.splitlines()[0] if err else ''}")
    worst = max(
        (row.get("other_cores", 0.0) for per in report["results"].values() for row in per.values()),
        default=0.0,
    )
    if worst > 0.1:
        lines.append(
            f"[yellow]WARNING[/]: other processes used up to {worst:.2f} cores during a scenario "
            "('other load' column): the figures understate what this machine can do."
        )
    m = report["machine"]
    lines.append(
        f"Machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}; run took "
        f"{report['seconds']:.0f} s."
    )
    return lines


def render(report: dict[str, Any], brokers: list[str]) -> None:
    console = Console(width=120 + 40 * len(brokers))
    console.print(throughput_table(report, brokers))
    console.print(cpu_table(report, brokers))
    for line in notes(report, brokers):
        console.print(line)
