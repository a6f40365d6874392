"""A dict that refuses changes, for the parts of enriched records shared between records.

A record's `user_agent`, `geo`, `referrer` and `campaign` are the same for every event with the
same user agent, country or (referrer, page URL) pair, so enrichment hands out one cached dict
to all of those records instead of a copy per record: the copies cost a fifth of enrichment.
Sharing is safe only if nobody changes them, so they are `FrozenDict`s: every method that would
change one raises TypeError (and nothing in the collector tries: the records are serialised as
soon as they are built). `.copy()` gives an ordinary dict to change.

A `FrozenDict` is a `dict` subclass, so it compares equal to a dict with the same items and
orjson writes the same bytes for it. Only `dict`'s own methods called explicitly
(`dict.__setitem__(d, k, v)`) get past it: don't.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenDict(dict[K, V]):
    """A read-only dict (see the module docstring); built like `dict(...)`."""

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> FrozenDict[K, V]:
        self = super().__new__(cls)
        dict.update(self, *args, **kwargs)  # filled here: `__init__` is refused like the rest
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Filled by `__new__`; calling `__init__` again changes nothing."""

    def __reduce__(self) -> tuple[type[FrozenDict[K, V]], tuple[dict[K, V]]]:
        return (type(self), (dict(self),))  # pickle and copy rebuild it through `__new__`

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} is shared between records and read-only; "
            "change a copy (`.copy()` gives a dict)"
        )

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse
