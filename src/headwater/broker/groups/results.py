"""What the coordinator answers: small frozen values the request handlers encode.

Error codes are Kafka's ints (`kio.schema.errors.ErrorCode` members, an IntEnum). Fields a
failed request has no value for carry Kafka's "no value" (`-1` generation, `""` leader, `None`
protocol), so a handler can encode any result without looking at its error first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class JoinMember:
    """One member as the leader sees it in its JoinGroup answer."""

    member_id: str
    group_instance_id: str | None
    metadata: bytes


@dataclass(frozen=True, slots=True)
class JoinResult:
    error_code: int
    generation_id: int = -1
    #: None when unknown; JoinGroup v0-6 cannot send null: encode None as "".
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    member_id: str = ""
    #: Only the leader gets the members (with their metadata for the chosen protocol).
    members: tuple[JoinMember, ...] = ()
    #: JoinGroup v9+: a static leader rejoining a stable group must not run the assignor.
    skip_assignment: bool = False

    @classmethod
    def failed(cls, error_code: int, member_id: str = "") -> JoinResult:
        return cls(error_code=error_code, member_id=member_id)


@dataclass(frozen=True, slots=True)
class SyncResult:
    error_code: int
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""

    @classmethod
    def failed(cls, error_code: int) -> SyncResult:
        return cls(error_code=error_code)


class DescribedMember(NamedTuple):
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    #: The member's metadata for the chosen protocol; b"" unless the group is Stable (as Kafka).
    metadata: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class DescribeResult:
    error_code: int
    group_id: str
    #: Empty, PreparingRebalance, CompletingRebalance, Stable or Dead (unknown groups).
    state: str
    protocol_type: str
    #: "" unless the group is Stable (as Kafka).
    protocol_name: str
    members: tuple[DescribedMember, ...] = ()
