"""redis-py's asyncio TCP connection with a cheaper write bound (follows redis-py 8.1's
``redis/asyncio/connection.py``, ``AbstractConnection.send_packed_command``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import cast

from redis.asyncio import Connection as _Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


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
