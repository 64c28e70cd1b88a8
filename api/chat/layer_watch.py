"""Per-process watches over the open chat sockets, and the channel layer's: a probe that must
come back through the layer, and a ``resync`` to every socket once it does after failing."""

from __future__ import annotations

import asyncio
import logging
from typing import Generic, Protocol, TypeVar

from channels.layers import get_channel_layer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

LAYER_PROBE_SECONDS = 2.0
LAYER_PROBE_TIMEOUT_SECONDS = 2.0
PROBE_TYPE = "chat.probe"


S = TypeVar("S")


class SocketWatch(Generic[S]):
    """One task per process over its open sockets (not a timer per socket, so a thousand
    sockets opened together do not act together); it ends when the last socket closes and
    starts again with the next. Subclasses say what it does in ``_run``."""

    def __init__(self) -> None:
        self.sockets: dict[S, None] = {}
        self.task: asyncio.Task[None] | None = None

    def watch(self, consumer: S) -> None:
        self.sockets[consumer] = None
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run())

    def forget(self, consumer: S) -> None:
        self.sockets.pop(consumer, None)
        if not self.sockets and self.task is not None:
            self.task.cancel()  # asleep, or at work: nothing left to do either way
            self.task = None

    async def _run(self) -> None:
        raise NotImplementedError


class Resyncable(Protocol):
    async def resync(self) -> None: ...


class LayerWatch(SocketWatch[Resyncable]):
    """While this process has sockets, sends a probe every ``LAYER_PROBE_SECONDS`` to a
    layer channel of its own and waits for it to come back. Events published while the
    layer (Redis) was down, or before its subscriptions were restored, are lost to open
    sockets; so once a probe comes back after one that did not, every socket is told to
    ``resync`` (resume from its last message)."""

    async def _run(self) -> None:
        layer = get_channel_layer()
        channel: str | None = None
        lost = False
        while self.sockets:
            await asyncio.sleep(LAYER_PROBE_SECONDS)
            try:
                async with asyncio.timeout(LAYER_PROBE_TIMEOUT_SECONDS):
                    if channel is None:
                        channel = await layer.new_channel("probe.")
                    await layer.send(channel, {"type": PROBE_TYPE})
                    await layer.receive(channel)
            except (RedisError, OSError, TimeoutError):
                if not lost:
                    logger.warning("chat channel layer unavailable", exc_info=True)
                # A cancelled receive drops the layer's channel: a new one next time.
                lost, channel = True, None
                continue
            if lost:
                lost = False
                logger.warning("chat channel layer back; sockets told to resync")
                for consumer in list(self.sockets):
                    await consumer.resync()


layer_watch = LayerWatch()
