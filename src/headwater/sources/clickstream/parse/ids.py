"""Event ids generated for calls that bring none: random (version 4) UUID strings.

Drawn from a pool filled 256 at a time from one `os.urandom` call (~0.2 µs an id, where
`str(uuid.uuid4())` costs ~1.5 µs: a system call and a UUID object each). A forked child
(a server's worker processes) starts with an empty pool: it never repeats its parent's ids.
"""

from __future__ import annotations

import os


def new_event_id() -> str:
    """A random (version 4) UUID string, drawn from a pool filled 256 at a time (~0.2 µs)."""
    try:
        return _POOL.pop()
    except IndexError:
        _POOL.extend(_uuid4_strings(256))
        return _POOL.pop()


_POOL: list[str] = []
os.register_at_fork(after_in_child=_POOL.clear)
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _uuid4_strings(n: int) -> list[str]:
    h = os.urandom(16 * n).hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-4{h[i + 13 : i + 16]}-"
        f"{_VARIANT[h[i + 16]]}{h[i + 17 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]
