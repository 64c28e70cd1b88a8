"""redis-py's asyncio TCP connection with a cheaper write bound (follows redis-py 8.1's
``redis/asyncio/connection.py``, ``AbstractConnection.send_packed_command``), and one
connection shared by many coroutines (``SharedConnection``: redis-py's connection and parser,
its stream writer used directly)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, cast

from redis.asyncio import Connection as _Connection
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT


class Connection(_Connection):
    """redis-py's TCP connection, with the write bounded by ``asyncio.timeout`` instead of
    ``asyncio.wait_for``, which wraps every command's write in a new Task (an extra task and
    loop turn per command on the hot paths). Same timeout, same errors, same disconnects:
    the body is redis-py's ``send_packed_command`` with that one change."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self.is_connected:
            await self.connect_check_health(check_health=False)
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        try:
            if isinstance(command, str):
                command = command.encode()
            if isinstance(command, bytes):
                command = [command]
            writer = cast(asyncio.StreamWriter, self._writer)  # connected above
            async with asyncio.timeout(self.socket_timeout or None):
                writer.writelines(command)
                await writer.drain()
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as e:
            await self.disconnect(nowait=True)
            if len(e.args) == 1:
                err_no, errmsg = "UNKNOWN", e.args[0]
            else:
                err_no, errmsg = e.args[0], e.args[1]
            raise RedisConnectionError(f"Error {err_no} while writing to socket. {errmsg}.") from e
        except BaseException:
            # As redis-py: a half-sent command cannot be resumed; drop the connection.
            await self.disconnect(nowait=True)
            raise


class SharedConnection:
    """One Redis connection that many coroutines use at once (pipelining): each command is
    queued with a future, every command queued in a loop turn goes out in one write, and a
    reader task hands each answer to the next future in line (Redis answers a connection's
    commands in the order it read them). No pool checkout, no timer and no system call per
    command: for the cached-read lane's one script per request.

    ``make_connection``: a redis-py connection, not connected (a pool's ``make_connection``:
    the same address, credentials, database and timeouts). Its ``connect`` does the
    handshake; its parser reads the answers (``read_response``). ``timeout``: a command not
    answered within it fails with ``TimeoutError``, and the connection is dropped with every
    command still on it (the order of what is left is unknown); a failed connect fails the
    commands of the next ``RECONNECT_PAUSE`` seconds at once, without trying again. Failures
    are redis-py's ``ConnectionError`` / ``TimeoutError``; an error answer is raised as
    redis-py raises it (``ResponseError``, ``NoScriptError``), the connection kept.
    """

    RECONNECT_PAUSE = 1.0

    def __init__(self, make_connection: Callable[[], AbstractConnection], timeout: float) -> None:
        self._make_connection = make_connection
        self.timeout = timeout
        self._connection: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._down_until = 0.0
        # The futures of the commands sent or queued on the connection, oldest first, with
        # their deadlines; the bytes queued for the next write.
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._queued: list[bytes] = []
        self._flush_handle: asyncio.Handle | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._packer: AbstractConnection | None = None

    async def execute(self, *args: EncodableT) -> Any:
        """The answer of one command (as ``Redis.execute_command`` gives it, no callbacks)."""
        return await self.execute_packed(self.pack(*args))

    def pack(self, *args: EncodableT) -> bytes:
        """The command as it goes on the wire (for ``execute_packed``; redis-py's packing,
        with the connection's encoding)."""
        if self._packer is None:
            self._packer = self._make_connection()  # never connected: its encoder only
        return b"".join(self._packer.pack_command(*args))

    async def execute_packed(self, packed: bytes) -> Any:
        """``execute`` of a command ``pack`` made (a caller may keep it for reuse)."""
        connection = self._connection
        if connection is None:
            connection = await self._connect()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((answer, loop.time() + self.timeout))
        self._queued.append(packed)
        if self._flush_handle is None:
            self._flush_handle = loop.call_soon(self._flush, connection)
        if self._watchdog is None:
            self._watchdog = loop.call_at(self._waiting[0][1], self._check_deadline)
        return await answer

    async def aclose(self) -> None:
        """Drop the connection; commands still waiting fail with ``ConnectionError``. Returns
        once its socket is closed and its reader has ended (nothing is left running); a
        connect under way finishes first (and is closed with the rest)."""
        async with self._lock:
            connection, reader = self._connection, self._reader
            if connection is not None:
                self._drop(connection, RedisConnectionError("Connection closed by the client"))
        if connection is not None:
            await connection.disconnect(nowait=True)
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if self._closing:  # sockets of connections that failed earlier
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def _connect(self) -> AbstractConnection:
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._connection is not None:
                return self._connection
            if loop.time() < self._down_until:
                raise RedisConnectionError("Redis was unreachable a moment ago")
            connection = self._make_connection()
            try:
                await connection.connect()  # type: ignore[no-untyped-call]
            except (RedisError, OSError) as error:
                self._down_until = loop.time() + self.RECONNECT_PAUSE
                await connection.disconnect(nowait=True)
                if isinstance(error, RedisError):
                    raise
                raise RedisConnectionError(str(error)) from error
            except BaseException:  # cancelled mid-handshake: the socket may be open
                await asyncio.shield(connection.disconnect(nowait=True))
                raise
            self._connection = connection
            self._reader = loop.create_task(self._read(connection))
            return connection

    def _flush(self, connection: AbstractConnection) -> None:
        self._flush_handle = None
        if connection is not self._connection:
            return  # failed meanwhile: what was queued for it failed with it
        queued, self._queued = self._queued, []
        writer = connection._writer  # redis-py's stream (no public writer)
        if writer is None:
            self._fail(connection, RedisConnectionError("Connection lost before writing"))
            return
        try:
            writer.writelines(queued)
        except (OSError, RuntimeError) as error:
            self._fail(connection, RedisConnectionError(f"Error while writing: {error}"))

    async def _read(self, connection: AbstractConnection) -> None:
        while True:
            try:
                answer: Any = await connection.read_response(
                    timeout=math.inf, disconnect_on_error=False
                )
            except ResponseError as error:  # an error answer: the connection is fine
                answer = error
            except (RedisError, OSError) as error:
                self._fail(connection, RedisConnectionError(str(error)))
                return
            except asyncio.CancelledError:
                return
            if connection is not self._connection or not self._waiting:
                self._fail(connection, RedisConnectionError("An answer nobody asked for"))
                return
            future, _ = self._waiting.popleft()
            if future.done():  # its caller gave up (cancelled)
                continue
            if isinstance(answer, ResponseError):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    def _check_deadline(self) -> None:
        self._watchdog = None
        connection = self._connection
        if connection is None or not self._waiting:
            return
        loop = asyncio.get_running_loop()
        deadline = self._waiting[0][1]
        if loop.time() >= deadline:
            self._fail(connection, RedisTimeoutError("Timeout reading from the shared connection"))
            return
        self._watchdog = loop.call_at(deadline, self._check_deadline)

    def _fail(self, connection: AbstractConnection, error: RedisError) -> None:
        """Drop ``connection`` (if it is still the current one), fail what waits on it and
        close its socket (a task: this runs in callbacks and in the reader)."""
        if not self._drop(connection, error):
            return
        closing = asyncio.get_running_loop().create_task(connection.disconnect(nowait=True))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    def _drop(self, connection: AbstractConnection, error: RedisError) -> bool:
        """Forget ``connection`` and fail every command waiting on it; False if it was
        already forgotten."""
        if connection is not self._connection:
            return False
        self._connection = None
        waiting, self._waiting = self._waiting, deque()
        self._queued = []
        for handle in (self._flush_handle, self._watchdog):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._watchdog = None
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        for future, _ in waiting:
            if not future.done():
                future.set_exception(type(error)(*error.args))
        return True
