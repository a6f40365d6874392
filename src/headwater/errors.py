"""The errors a `headwater` command ends with, typed by who is at fault and whether a retry helps.

```
HeadwaterError(exit_code, hint, retriable)  a cause for the user, and the fix (`hint`)
├── UsageError               2  the command line or config is wrong: a bad option value, a --lake
│                               that is not there, bad SQL, a refused topic. Retrying never helps.
├── ServiceUnavailableError 69  (EX_UNAVAILABLE) what we need is not there or is taken: no broker
│                               answers, the port is in use. Retry once it is back.
├── StorageError            74  (EX_IOERR) a file or directory could not be read or written
│                               (permissions, a full disk). Retry after fixing the disk.
└── DataError               65  (EX_DATAERR) input we cannot accept (a record the broker
                                refuses). Retry with corrected data.
anything else               70  (EX_SOFTWARE) a bug of ours: its traceback is printed.
```

Library code raises these (or its own errors) and never exits; `boundary` in the CLI catches,
prints `error: <cause>` and `fix: <hint>` on stderr and exits with the code. Errors of other
libraries are translated here (`translate`, as httpx maps httpcore's), not where they are raised:
OSError by errno, `headwater.transport` errors by class and `retriable` (a refused topic is a
usage error, a refused record a data error, the rest unavailable), and any exception that carries
`exit_code` and `hint` (or `cause` and `fix`, as CdcError and SnapshotError do) is taken as is;
a missing module of an optional extra (`EXTRAS`) is a usage error naming the extra to install.
Click's usage errors never get here: click prints them and exits 2 itself.
"""

from __future__ import annotations

import errno
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

EX_USAGE = 2  # click's code for a usage error, kept for every usage/config error
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70
EX_IOERR = 74

#: The module an optional extra installs -> the extra (pyproject's optional-dependencies).
EXTRAS = {
    "psycopg2": "cdc",
    "pymysqlreplication": "cdc",
    "MySQLdb": "snapshot",
    "adbc_driver_postgresql": "snapshot",
    "adbc_driver_manager": "snapshot",
    "av": "video",
    "aiohttp": "video",
    "pandas": "ml",
    "sklearn": "ml",
}

#: The table the `--help` epilog and the README show.
EXIT_CODES = (
    (0, "done, or stopped by SIGINT/SIGTERM after a clean shutdown"),
    (EX_USAGE, "usage or configuration error: fix the command line or config"),
    (EX_DATAERR, "input data that cannot be accepted"),
    (EX_UNAVAILABLE, "a service or resource is unavailable (broker down, port in use)"),
    (EX_SOFTWARE, "internal error (a bug: the traceback is printed)"),
    (EX_IOERR, "a file or directory could not be read or written"),
)


class HeadwaterError(Exception):
    """A failure the user can act on: `str(self)` is the cause, `hint` the fix."""

    exit_code = EX_SOFTWARE
    retriable = False

    def __init__(self, cause: str, hint: str | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.hint = hint


class UsageError(HeadwaterError):
    """The command line or configuration is wrong; the same command always fails."""

    exit_code = EX_USAGE


class ServiceUnavailableError(HeadwaterError):
    """A service or resource we need is not there now; the same command may work later."""

    exit_code = EX_UNAVAILABLE
    retriable = True


class StorageError(HeadwaterError):
    """A file or directory could not be read or written."""

    exit_code = EX_IOERR


class DataError(HeadwaterError):
    """Input data that cannot be accepted as it is."""

    exit_code = EX_DATAERR


def translate(exc: BaseException) -> HeadwaterError | None:
    """`exc` as a HeadwaterError, or None when it is not a failure we know (a bug)."""
    if isinstance(exc, HeadwaterError):
        return exc
    code, hint = getattr(exc, "exit_code", None), getattr(exc, "hint", None)
    if isinstance(code, int) and hasattr(exc, "hint"):
        return _with_code(str(getattr(exc, "cause", exc)), hint, code)
    if hasattr(exc, "cause") and hasattr(exc, "fix"):  # CdcError, SnapshotError: exit 2 as before
        return _with_code(str(exc.cause), exc.fix, getattr(exc, "exit_code", EX_USAGE))
    from headwater import transport

    if isinstance(exc, transport.TransportConfigError):
        return UsageError(str(exc), "check --broker: embedded, kafka://host:port[,host:port…]")
    if isinstance(exc, transport.BrokerUnavailableError):
        return ServiceUnavailableError(
            f"no broker: {exc}",
            "start one (`headwater broker`) or point --broker at a running one",
        )
    if isinstance(exc, transport.TopicError) and not exc.retriable:
        return UsageError(f"broker refused: {exc}", "check the topic names and their settings")
    if isinstance(exc, transport.DeliveryError) and not exc.retriable:
        return DataError(f"broker refused a record: {exc}", "see the broker's limits and log")
    if isinstance(exc, transport.TransportError):
        return ServiceUnavailableError(f"broker: {exc}", "see the broker's log; then run again")
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        extra = EXTRAS.get(exc.name.partition(".")[0])
        if extra is not None:
            return UsageError(
                f"this command needs {exc.name}, which `headwater[{extra}]` installs",
                f"pip install 'headwater[{extra}]' (or 'headwater[all]')",
            )
        return None
    if isinstance(exc, OSError):
        return _os_error(exc)
    return None


def _with_code(cause: str, hint: str | None, code: int) -> HeadwaterError:
    error = HeadwaterError(cause, hint)
    error.exit_code = code
    return error


def _os_error(exc: OSError) -> HeadwaterError:
    text = exc.strerror or str(exc)
    where = f"{exc.filename}: " if exc.filename else ""
    if exc.errno == errno.EADDRINUSE:
        return ServiceUnavailableError(
            str(exc), "another process listens there: stop it or choose another --listen"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return UsageError(str(exc), "listen on an address of this machine (--listen HOST:PORT)")
    if exc.errno in (errno.EACCES, errno.EPERM) and not exc.filename:
        return UsageError(str(exc), "ports below 1024 need privileges: choose another --listen")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return StorageError(f"{where}{text}", "give this user access, or choose another path")
    if exc.errno == errno.ENOSPC:
        return StorageError(f"{where}{text}", "free some space on that disk, then run again")
    return StorageError(f"{where}{text}", "check the path and its permissions")


def report(error: HeadwaterError) -> None:
    """Print the one-line cause and the fix on stderr."""
    print(f"error: {error.cause}", file=sys.stderr)
    if error.hint:
        print(f"fix: {error.hint}", file=sys.stderr)


@contextmanager
def boundary() -> Iterator[None]:
    """The CLI's one error boundary: known failures exit with their code and no traceback;
    anything else is a bug: its traceback and exit 70."""
    try:
        yield
    except Exception as exc:  # SystemExit and KeyboardInterrupt pass: click handles them
        error = translate(exc)
        if error is None:
            traceback.print_exc()
            print(f"error: internal error ({type(exc).__name__}); this is a bug", file=sys.stderr)
            sys.exit(EX_SOFTWARE)
        report(error)
        sys.exit(error.exit_code)
