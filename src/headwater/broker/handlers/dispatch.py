"""API key -> handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from headwater.broker.handlers import admin, api_versions, fetch, groups, metadata, offsets, produce
from headwater.broker.handlers.produce import ProduceAppends
from headwater.broker.handlers.raw import RawResponse
from headwater.broker.protocol.codec import Request
from headwater.broker.protocol.versions import ApiKey
from headwater.broker.state import BrokerState

__all__ = ["HANDLERS", "Handler", "HandlerResult", "RawResponse"]

#: A response as plain data (see protocol.build), encoded bytes, appends to run, or no answer.
HandlerResult = dict[str, Any] | RawResponse | ProduceAppends | None
Handler = Callable[[BrokerState, Request], HandlerResult | Awaitable[HandlerResult]]

HANDLERS: dict[int, Handler] = {
    ApiKey.API_VERSIONS: api_versions.handle_api_versions,
    ApiKey.METADATA: metadata.handle_metadata,
    ApiKey.PRODUCE: produce.handle_produce,
    ApiKey.FETCH: fetch.handle_fetch,
    ApiKey.LIST_OFFSETS: fetch.handle_list_offsets,
    ApiKey.CREATE_TOPICS: admin.handle_create_topics,
    ApiKey.DELETE_TOPICS: admin.handle_delete_topics,
    ApiKey.CREATE_PARTITIONS: admin.handle_create_partitions,
    ApiKey.DESCRIBE_CONFIGS: admin.handle_describe_configs,
    ApiKey.INIT_PRODUCER_ID: produce.handle_init_producer_id,
    ApiKey.FIND_COORDINATOR: groups.handle_find_coordinator,
    ApiKey.JOIN_GROUP: groups.handle_join_group,
    ApiKey.SYNC_GROUP: groups.handle_sync_group,
    ApiKey.HEARTBEAT: groups.handle_heartbeat,
    ApiKey.LEAVE_GROUP: groups.handle_leave_group,
    ApiKey.LIST_GROUPS: groups.handle_list_groups,
    ApiKey.DESCRIBE_GROUPS: groups.handle_describe_groups,
    ApiKey.OFFSET_COMMIT: offsets.handle_offset_commit,
    ApiKey.OFFSET_FETCH: offsets.handle_offset_fetch,
}
