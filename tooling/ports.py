"""Loopback ports for the servers that tests and tooling start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port nothing listens on: bound by the OS's choice, then released.

    Another process may take it before the caller binds it; where that matters, bind the
    socket and hand it to the server instead.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
