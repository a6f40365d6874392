"""The asyncio TCP server around the sans-IO codec and handlers: the only place with sockets.

Rules:
1. Responses on one connection go out in request order, even when a later request (Produce)
   finishes before an earlier one (a long-polling Fetch): results queue per connection.
2. A frame that cannot be decoded costs that one connection (closed, with a log line); an
   ApiVersions request of an unknown version is answered with error 35 in the v0 layout.
3. A handler that raises is a broker bug: it is logged with its traceback and the connection is
   closed; the process and every other connection keep going.
4. Reading pauses while a connection has too much queued (slow reader or pipelining client).
5. No blocking disk writes on the event loop: Produce handlers return their appends
   (`ProduceAppends`), which run on the writer thread (`broker.writer`); the answer is built
   when they are done. Small ones (no fdatasync, at most 64 KiB) run inline while the writer is
   idle, which keeps the order and saves the thread hop (writer rule 1).
   While a connection has appends in flight, its later requests other than Produce wait for them,
   so a request sees the effects of every request sent before it on its connection (Kafka handles
   one request per connection at a time). Retention and DeleteTopics hold the writer off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from headwater.broker.config import BrokerConfig
from headwater.broker.handlers import HANDLERS, RawResponse
from headwater.broker.handlers.api_versions import unsupported_version_payload
from headwater.broker.handlers.produce import AppendOutcome, ProduceAppends
from headwater.broker.log import LogError, PartitionLog
from headwater.broker.protocol.build import build
from headwater.broker.protocol.codec import (
    Request,
    decode_request,
    encode_raw_response,
    encode_response,
    response_type,
)
from headwater.broker.protocol.errors import (
    FrameError,
    RequestDecodeError,
    UnsupportedVersionError,
)
from headwater.broker.protocol.fetch_response import encode_fetch_response
from headwater.broker.protocol.framing import FrameDecoder
from headwater.broker.protocol.versions import ApiKey, api_name
from headwater.broker.state import BrokerState
from headwater.broker.writer import StorageWriter
from headwater.logs import log_event

logger = logging.getLogger("headwater.broker.server")

MAX_PENDING_PER_CONNECTION = 256
FLUSH_TICK_S = 0.1
_NOTHING = object()
#: Requests that remove segments or close logs: run on the loop with the writer held off.
_EXCLUSIVE_APIS = frozenset({ApiKey.DELETE_TOPICS})


@dataclass(slots=True)
class _Appending:
    """A produce whose appends run on the writer thread; `response` is set when they are done."""

    effect: ProduceAppends
    done: bool = False
    response: Any = field(default=None)


class KafkaConnection(asyncio.BufferedProtocol):
    """One client connection: frames in, responses out in order."""

    def __init__(
        self, state: BrokerState, connections: set[KafkaConnection], writer: StorageWriter
    ) -> None:
        self._state = state
        self._connections = connections
        self._writer = writer
        self._decoder = FrameDecoder(state.config.max_frame_bytes)
        self._transport: asyncio.Transport | None = None
        self._pending: deque[tuple[Request, Any]] = deque()
        self._deferred: deque[Request] = deque()
        self._appends_in_flight = 0
        self._peer = ""
        self._closed = False
        self._write_paused = False
        self._read_paused = False

    # -- asyncio.BufferedProtocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self._connections.add(self)
        self._state.metrics.connections.inc()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._connections.discard(self)
        self._state.metrics.connections.dec()
        for _, pending in self._pending:
            if isinstance(pending, asyncio.Task):
                pending.cancel()
        self._pending.clear()
        self._deferred.clear()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._decoder.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            frames = self._decoder.buffer_updated(nbytes)
        except FrameError as exc:
            self._protocol_error("bad_frame", str(exc))
            return
        for frame in frames:
            if self._closed:
                return
            self._handle_frame(frame)
        self._update_reading()

    # -- request handling -------------------------------------------------------------------
    def _handle_frame(self, frame: bytes | bytearray) -> None:
        state = self._state
        try:
            request = decode_request(frame)
        except UnsupportedVersionError as exc:
            if exc.api_key == ApiKey.API_VERSIONS and exc.correlation_id is not None:
                state.metrics.protocol_errors.labels(kind="unsupported_version").inc()
                self._write(encode_raw_response(exc.correlation_id, unsupported_version_payload()))
                return
            self._protocol_error("unsupported_version", str(exc))
            return
        except RequestDecodeError as exc:
            self._protocol_error("malformed_request", str(exc))
            return
        request.client_host = self._peer.rsplit(":", 1)[0]
        name = api_name(request.api_key)
        state.metrics.requests.labels(api=name).inc()
        state.metrics.bytes_in.labels(api=name).inc(request.size)
        if self._deferred or (self._appends_in_flight and request.api_key != ApiKey.PRODUCE):
            self._deferred.append(request)  # rule 5: after this connection's appends
            return
        self._dispatch(request)

    def _dispatch(self, request: Request) -> None:
        state = self._state
        try:
            if request.api_key in _EXCLUSIVE_APIS:
                with self._writer.exclusive():
                    result = HANDLERS[request.api_key](state, request)
            else:
                result = HANDLERS[request.api_key](state, request)
        except Exception:
            self._handler_crashed(request)
            return
        if isinstance(result, ProduceAppends):
            if not result.appends:
                result = result.complete(state, [])
            elif self._writer.idle and result.small:
                try:
                    result = result.complete(state, self._writer.run_inline(result.run))
                except Exception:
                    self._handler_crashed(request)
                    return
            else:
                self._start_appends(request, result)
                return
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(result)
            self._pending.append((request, task))
            task.add_done_callback(lambda _t: self._drain())
        elif result is None and not self._pending:
            return  # acks=0: no response, nothing queued before it
        else:
            self._pending.append((request, _NOTHING if result is None else result))
        self._drain()

    def _start_appends(self, request: Request, effect: ProduceAppends) -> None:
        appending = _Appending(effect)
        self._pending.append((request, appending))
        self._appends_in_flight += 1
        self._writer.submit(
            effect.run,
            lambda outcomes, exc: self._appends_done(request, appending, outcomes, exc),
        )
        self._update_reading()

    def _appends_done(
        self,
        request: Request,
        appending: _Appending,
        outcomes: list[AppendOutcome] | None,
        exc: BaseException | None,
    ) -> None:
        """On the loop: answer a produce whose appends ran (even if the client has gone, so
        metrics and fetch wake-ups see every append), then run what waited for it."""
        self._appends_in_flight -= 1
        if exc is not None or outcomes is None:
            self._handler_crashed(request, exc)
            return
        try:
            appending.response = appending.effect.complete(self._state, outcomes)
        except Exception:
            self._handler_crashed(request)
            return
        appending.done = True
        self._drain()
        while self._deferred and not self._closed:
            if self._appends_in_flight and self._deferred[0].api_key != ApiKey.PRODUCE:
                break
            self._dispatch(self._deferred.popleft())

    def _drain(self) -> None:
        """Write every finished response at the head of the queue, in request order."""
        while self._pending and not self._closed:
            request, pending = self._pending[0]
            if isinstance(pending, _Appending):
                if not pending.done:
                    break
                pending = pending.response
            elif isinstance(pending, asyncio.Task):
                if not pending.done():
                    break
                if pending.cancelled():
                    self._pending.popleft()
                    continue
                if pending.exception() is not None:
                    self._handler_crashed(request, pending.exception())
                    return
                pending = pending.result()
            self._pending.popleft()
            if pending is _NOTHING or pending is None:
                continue
            try:
                self._write(self._encode(request, pending))
            except Exception:
                self._handler_crashed(request)
                return
        self._update_reading()

    def _encode(self, request: Request, result: Any) -> bytes | list[bytes | memoryview]:
        if request.api_key == ApiKey.FETCH:
            parts = encode_fetch_response(request.api_version, request.correlation_id, result)
            self._state.metrics.bytes_out.labels(api="fetch").inc(sum(len(p) for p in parts))
            return parts
        if isinstance(result, RawResponse):
            data = encode_raw_response(request.correlation_id, result.payload)
        else:
            body = build(response_type(request.api_key, request.api_version), result)
            data = encode_response(
                request.api_key, request.api_version, request.correlation_id, body
            )
        self._state.metrics.bytes_out.labels(api=api_name(request.api_key)).inc(len(data))
        return data

    def _write(self, data: bytes | list[bytes | memoryview]) -> None:
        if self._transport is not None and not self._closed:
            if isinstance(data, list):
                self._transport.writelines(data)
            else:
                self._transport.write(data)

    def _update_reading(self) -> None:
        if self._transport is None or self._closed:
            return
        queued = len(self._pending) + len(self._deferred)
        should_pause = self._write_paused or queued >= MAX_PENDING_PER_CONNECTION
        if should_pause and not self._read_paused:
            self._transport.pause_reading()
            self._read_paused = True
        elif not should_pause and self._read_paused:
            self._transport.resume_reading()
            self._read_paused = False

    def _protocol_error(self, kind: str, reason: str) -> None:
        self._state.metrics.protocol_errors.labels(kind=kind).inc()
        log_event(
            logger,
            "connection_closed",
            logging.WARNING,
            peer=self._peer,
            kind=kind,
            reason=reason[:500],
        )
        self.close()

    def _handler_crashed(self, request: Request, exc: BaseException | None = None) -> None:
        self._state.metrics.protocol_errors.labels(kind="handler_error").inc()
        logger.error(
            "handler_error",
            exc_info=exc or True,
            extra={
                "event": "handler_error",
                "fields": {
                    "peer": self._peer,
                    "api": api_name(request.api_key),
                    "version": request.api_version,
                },
            },
        )
        self.close()

    def close(self) -> None:
        if not self._closed and self._transport is not None:
            self._closed = True
            self._transport.close()


def _flush_partitions(partitions: list[PartitionLog], now_ms: int) -> None:
    for partition in partitions:
        partition.flush_due(now_ms)


class BrokerServer:
    """Owns the listening socket, the connections and the background maintenance tasks."""

    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.state = BrokerState(config)
        self.writer = StorageWriter()
        self._server: asyncio.Server | None = None
        self._connections: set[KafkaConnection] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._flushing: asyncio.Future[None] | None = None

    async def start(self) -> None:
        await self.state.start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: KafkaConnection(self.state, self._connections, self.writer),
            self.config.host,
            self.config.port,
            reuse_address=True,
            backlog=1024,
        )
        self._tasks.append(asyncio.create_task(self._flush_periodically()))
        self._tasks.append(asyncio.create_task(self._apply_retention_periodically()))
        if self.config.metrics_host is not None:
            from prometheus_client import start_http_server

            start_http_server(
                self.config.metrics_port,
                self.config.metrics_host,
                registry=self.state.metrics.registry,
            )
        log_event(
            logger,
            "broker_started",
            listen=f"{self.config.host}:{self.config.port}",
            data_dir=str(self.config.data_dir),
            topics=len(self.state.logs.topics),
            flush=self.config.log.flush_policy,
        )

    async def _flush_periodically(self) -> None:
        """Apply each partition's flush policy off the event loop, so fsync never stalls it.

        The partition list is taken on the loop thread; a partition deleted meanwhile is closed
        and skips its flush.
        """
        while True:
            await asyncio.sleep(FLUSH_TICK_S)
            partitions = [p for t in self.state.logs.topics.values() for p in t.partitions]
            now_ms = self.state.now_ms()
            try:
                self._flushing = asyncio.get_running_loop().run_in_executor(
                    None, _flush_partitions, partitions, now_ms
                )
                await asyncio.shield(self._flushing)
                self.state.groups.flush()
            except (LogError, OSError) as exc:
                log_event(logger, "flush_failed", logging.ERROR, error=str(exc))

    async def _apply_retention_periodically(self) -> None:
        interval = self.config.retention_check_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                with self.writer.exclusive():
                    deleted = self.state.logs.apply_retention(self.state.now_ms())
                if deleted:
                    log_event(logger, "retention_applied", segments_deleted=deleted)
            except (LogError, OSError) as exc:
                log_event(logger, "retention_failed", logging.ERROR, error=str(exc))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._flushing is not None:  # a worker thread may still be inside fsync
            with contextlib.suppress(Exception):
                await self._flushing
        await asyncio.get_running_loop().run_in_executor(None, self.writer.close)
        await self.state.close()
        log_event(logger, "broker_stopped")


async def serve(
    config: BrokerConfig, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    """Run until `stop` is set, then stop cleanly (flush and close every log). The caller owns
    the signals: `headwater broker` sets `stop` on SIGINT/SIGTERM (`headwater.stopping`)."""
    server = BrokerServer(config)
    await server.start()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        await server.stop()
