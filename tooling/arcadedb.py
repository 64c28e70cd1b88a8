"""Start a throw-away ArcadeDB Bolt server from the ``arcadedb-embedded`` wheel (a dev
dependency): the Neo4j stand-in of the test suite and the graph benchmark."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import DriverError, Neo4jError

from graph.connection import split_bolt_url
from tooling.ports import free_port


class BoltServerError(RuntimeError):
    """The embedded server could not be started."""


@dataclass
class EmbeddedBoltServer:
    url: str
    process: subprocess.Popen[bytes]
    directory: Path

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        shutil.rmtree(self.directory, ignore_errors=True)


def bolt_ready(url: str, *, timeout: float = 2.0) -> bool:
    """Whether a real ``RETURN 1`` succeeds (the port opens before the database exists)."""
    target, auth = split_bolt_url(url)
    try:
        with GraphDatabase.driver(
            target, auth=auth, connection_timeout=timeout, max_transaction_retry_time=0
        ) as driver:
            records, _, _ = driver.execute_query("RETURN 1 AS ok")
            return bool(records and records[0]["ok"] == 1)
    except (DriverError, Neo4jError, OSError):
        return False


def embedded_bolt_server_start(*, timeout: float = 90.0, heap: str = "1g") -> EmbeddedBoltServer:
    """Start ArcadeDB on free loopback ports in a temporary directory; wait until it answers."""
    try:
        import arcadedb_embedded
    except ImportError as exc:
        raise BoltServerError("the arcadedb-embedded wheel is not installed") from exc
    package = Path(arcadedb_embedded.__file__).parent
    java = package / "jre" / "bin" / "java"
    if not java.exists():
        raise BoltServerError(f"no Java runtime in {package}")
    directory = Path(tempfile.mkdtemp(prefix="musicbud-arcadedb-"))
    bolt_port, http_port = free_port(), free_port()
    password = secrets.token_hex(12)
    command = [
        str(java),
        "-Xms128m",
        # A short-lived server: the quick JIT only and one GC thread, so it takes less CPU
        # from the processes sharing the machine with it (the test suite's other passes).
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        f"-Xmx{heap}",
        "-cp",
        f"{package / 'jars'}/*",
        f"-Darcadedb.server.rootPath={directory}",
        f"-Darcadedb.server.databaseDirectory={directory / 'databases'}",
        f"-Darcadedb.server.rootPassword={password}",
        "-Darcadedb.server.mode=development",
        "-Darcadedb.server.httpIncomingHost=127.0.0.1",
        f"-Darcadedb.server.httpIncomingPort={http_port}",
        "-Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
        "-Darcadedb.bolt.host=127.0.0.1",
        f"-Darcadedb.bolt.port={bolt_port}",
        # The :admin suffix is needed, or schema changes (constraints) are refused.
        f"-Darcadedb.server.defaultDatabases=neo4j[root:{password}:admin]",
        "-Darcadedb.bolt.defaultDatabase=neo4j",
        "com.arcadedb.server.ArcadeDBServer",
    ]
    log = (directory / "server.log").open("wb")
    # The command is built from the wheel's own files and generated values only.
    process = subprocess.Popen(  # noqa: S603
        command, cwd=directory, stdout=log, stderr=subprocess.STDOUT
    )
    server = EmbeddedBoltServer(
        url=f"bolt://root:{password}@127.0.0.1:{bolt_port}", process=process, directory=directory
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (directory / "server.log").read_text(errors="replace")[-2000:]
            server.stop()
            raise BoltServerError(f"ArcadeDB exited with {process.returncode}: {output}")
        if bolt_ready(server.url, timeout=1.0):
            return server
        time.sleep(0.3)
    server.stop()
    raise BoltServerError(f"ArcadeDB did not answer RETURN 1 within {timeout:.0f} s")
