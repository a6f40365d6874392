"""FindCoordinator and the classic group protocol: thin translations onto GroupCoordinator."""

from __future__ import annotations

from typing import Any

from headwater.broker.protocol.codec import Request
from headwater.broker.state import BrokerState

COORDINATOR_NOT_AVAILABLE = 15
GROUP_KEY = 0
AUTHORIZED_OPERATIONS_OMITTED = -(2**31)


def handle_find_coordinator(state: BrokerState, request: Request) -> dict[str, Any]:
    body = request.body
    config = state.config
    if getattr(body, "key_type", GROUP_KEY) != GROUP_KEY:
        return {
            "throttle_time_ms": 0,
            "error_code": COORDINATOR_NOT_AVAILABLE,
            "error_message": "transactions are not supported by the embedded broker",
            "node_id": -1,
            "host": "",
            "port": -1,
        }
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "error_message": None,
        "node_id": config.node_id,
        "host": config.advertised,
        "port": config.port,
    }


async def handle_join_group(state: BrokerState, request: Request) -> dict[str, Any]:
    b = request.body
    session_ms = int(b.session_timeout.total_seconds() * 1000)
    rebalance = getattr(b, "rebalance_timeout", None)
    rebalance_ms = int(rebalance.total_seconds() * 1000) if rebalance is not None else session_ms
    result = await state.groups.join_group(
        b.group_id,
        b.member_id,
        getattr(b, "group_instance_id", None),
        b.protocol_type,
        [(p.name, p.metadata) for p in b.protocols],
        session_ms,
        rebalance_ms,
        request.client_id or "",
        request.client_host,
        request.api_version,
    )
    return {
        "throttle_time_ms": 0,
        "error_code": result.error_code,
        "generation_id": result.generation_id,
        "protocol_type": result.protocol_type,
        "protocol_name": result.protocol_name or "",
        "leader": result.leader,
        "member_id": result.member_id,
        "members": [
            {
                "member_id": m.member_id,
                "group_instance_id": m.group_instance_id,
                "metadata": m.metadata,
            }
            for m in result.members
        ],
    }


async def handle_sync_group(state: BrokerState, request: Request) -> dict[str, Any]:
    b = request.body
    result = await state.groups.sync_group(
        b.group_id,
        b.generation_id,
        b.member_id,
        getattr(b, "group_instance_id", None),
        getattr(b, "protocol_type", None),
        getattr(b, "protocol_name", None),
        [(a.member_id, a.assignment) for a in b.assignments],
    )
    return {
        "throttle_time_ms": 0,
        "error_code": result.error_code,
        "protocol_type": result.protocol_type,
        "protocol_name": result.protocol_name,
        "assignment": result.assignment,
    }


def handle_heartbeat(state: BrokerState, request: Request) -> dict[str, Any]:
    b = request.body
    code = state.groups.heartbeat(
        b.group_id, b.generation_id, b.member_id, getattr(b, "group_instance_id", None)
    )
    return {"throttle_time_ms": 0, "error_code": code}


async def handle_leave_group(state: BrokerState, request: Request) -> dict[str, Any]:
    b = request.body
    code, members = await state.groups.leave_group(b.group_id, [(b.member_id, None)])
    if code == 0 and members:
        code = members[0][2]
    return {"throttle_time_ms": 0, "error_code": code}


def handle_list_groups(state: BrokerState, request: Request) -> dict[str, Any]:
    wanted = set(getattr(request.body, "states_filter", ()) or ())
    groups = [
        {"group_id": gid, "protocol_type": ptype, "group_state": st}
        for gid, ptype, st in state.groups.list_groups()
        if not wanted or st in wanted
    ]
    return {"throttle_time_ms": 0, "error_code": 0, "groups": groups}


def handle_describe_groups(state: BrokerState, request: Request) -> dict[str, Any]:
    groups = []
    for gid in request.body.groups:
        d = state.groups.describe_group(gid, request.api_version)
        groups.append(
            {
                "error_code": d.error_code,
                "group_id": gid,
                "group_state": d.state,
                "protocol_type": d.protocol_type or "",
                "protocol_data": d.protocol_name or "",
                "members": [
                    {
                        "member_id": m[0],
                        "group_instance_id": m[1],
                        "client_id": m[2],
                        "client_host": m[3],
                        "member_metadata": m[4],
                        "member_assignment": m[5],
                    }
                    for m in d.members
                ],
                "authorized_operations": AUTHORIZED_OPERATIONS_OMITTED,
            }
        )
    return {"throttle_time_ms": 0, "groups": groups}
