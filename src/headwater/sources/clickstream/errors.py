"""Why a collector could not start: one exception, typed by exit code, for the CLI's boundary.

`str(error)` is the message for the user (the cause); `hint` says the fix; `exit_code` follows
sysexits.h: 2 for a usage or configuration mistake, 69 (EX_UNAVAILABLE) for a broker that is
unreachable or of an unsupported kind, 74 (EX_IOERR) for the listening address (port in use,
not permitted). The command prints both and exits with the code; nothing is served.
"""

from __future__ import annotations

EX_USAGE = 2
EX_UNAVAILABLE = 69
EX_IOERR = 74


class CollectorStartupError(Exception):
    """The collector cannot start; raised before anything listens."""

    def __init__(self, message: str, *, hint: str, exit_code: int) -> None:
        super().__init__(message)
        self.hint = hint
        self.exit_code = exit_code
