"""Errors of `headwater cdc`, typed by who is at fault and whether waiting helps.

    CdcError                   a fault with a cause and a fix; the CLI prints both, no traceback
    ├── SourceConfigError      the database is set up wrong for CDC (settings, privileges, slot,
    │                          keys, credentials): retrying does not help, the fix names what to do
    ├── SourceUnavailableError the database cannot be reached right now (restart, network):
    │                          the reader reconnects and resumes from the last durable position
    └── BrokerDeliveryError    the broker did not acknowledge a change: the reader stops; a restart
                               resumes from the last durable position

Database client errors (psycopg2, pymysql) are translated where they are raised, in the reader
modules, so nothing above them sees a driver exception.
"""

from __future__ import annotations


class CdcError(Exception):
    """A failure with a cause (what is wrong) and a fix (what to change)."""

    retriable = False

    def __init__(self, cause: str, fix: str | None = None) -> None:
        super().__init__(cause if fix is None else f"{cause}\n  fix: {fix}")
        self.cause = cause
        self.fix = fix


class SourceConfigError(CdcError):
    """The database or its account is not set up for change capture."""


class SourceUnavailableError(CdcError):
    """The database did not answer; reconnecting later may succeed."""

    retriable = True


class BrokerDeliveryError(CdcError):
    """The broker refused or never acknowledged a change."""

    retriable = True
