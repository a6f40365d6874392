"""`with` support for every transport object: leaving the block calls `close()`."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self


class ClosesOnExit:
    """Mixin: `__enter__` returns self, `__exit__` calls `self.close()`."""

    def close(self) -> Any:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
