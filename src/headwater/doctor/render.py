"""A `Report` as text for people (one finding per paragraph, the fix beneath it, ready to paste)
or as JSON for machines. Both return strings; the command prints them."""

from __future__ import annotations

import json
import textwrap

from headwater.doctor.findings import Report, Severity

_COLOURS = {
    Severity.CRITICAL: "red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.INFO: "blue",
    Severity.OK: "green",
}
_INDENT = " " * 10
_WIDTH = 100


def as_text(report: Report, colour: bool = False) -> str:
    lines = [f"headwater doctor: {report.broker}", f"  {report.summary}", ""]
    for f in report.findings:
        label = f"{f.severity.name:<8}"
        if colour:
            import typer

            label = typer.style(label, fg=_COLOURS[f.severity], bold=f.severity <= Severity.HIGH)
        body = textwrap.wrap(f"{f.subject}: {f.message}", _WIDTH - len(_INDENT))
        lines.append(f"{label}  {body[0]}")
        lines += [_INDENT + line for line in body[1:]]
        if f.fix:
            # Commands are not wrapped: they must paste whole.
            lines.append(f"{_INDENT}fix: {f.fix}")
    counts = ", ".join(f"{n} {name}" for name, n in report.counts().items() if n)
    verdict = (
        "exit 1: something is CRITICAL or HIGH" if report.exit_code else "exit 0: nothing at risk"
    )
    lines += ["", f"{counts}; {verdict}"]
    return "\n".join(lines)


def as_json(report: Report) -> str:
    return json.dumps(
        {
            "broker": report.broker,
            "summary": report.summary,
            "exit_code": report.exit_code,
            "counts": report.counts(),
            "findings": [
                {
                    "severity": f.severity.name,
                    "subject": f.subject,
                    "check": f.check,
                    "message": f.message,
                    "fix": f.fix,
                }
                for f in report.findings
            ],
        },
        indent=2,
    )
