"""Consumer groups: Kafka's classic group protocol and committed offsets that survive restarts.

`GroupCoordinator` is the one object the request handlers use; what it returns are small frozen
values (`results`). Inside, following the flow of a request: `coordinator` (async waits, the timer
task, offsets) -> `membership` (the group requests) -> `rebalance` (generations and timers) ->
`state` (groups and members), the last three sans-IO and synchronous; `offset_store` keeps the
`group-offsets.log` file.
"""

from headwater.broker.groups.coordinator import GroupCoordinator
from headwater.broker.groups.results import (
    DescribedMember,
    DescribeResult,
    JoinMember,
    JoinResult,
    SyncResult,
)
from headwater.broker.groups.state import GroupState

__all__ = [
    "DescribeResult",
    "DescribedMember",
    "GroupCoordinator",
    "GroupState",
    "JoinMember",
    "JoinResult",
    "SyncResult",
]
