"""The history-upload benchmark (``manage.py import_bench``): a generated Extended streaming
history (100,000 streams in 8 files, zipped) uploaded through the upload service; reports the
time from upload to ``succeeded`` and the peak memory of the process that ran the job."""

from __future__ import annotations

import multiprocessing
import os
import platform
import secrets
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import connection as db_connection
from django.db import connections

from musicbud.models import TasteEdge, User
from tooling.exports import extended_history, zip_of
from tooling.import_bench_job import upload_run


def import_bench_run(*, streams: int, files: int, tracks: int, say: Callable[[str], None]) -> str:
    """Run the benchmark; returns the report (a Markdown table and the machine)."""
    if db_connection.vendor != "postgresql":
        say("warning: not on PostgreSQL (set DATABASE_URL); the targets are for PostgreSQL")
    prefix = f"b{secrets.token_hex(3)}"
    # Names and ids of this run only: the import creates its catalogue (a first upload).
    parts = extended_history(streams=streams, files=files, tracks=tracks, prefix=f"{prefix} ")
    json_bytes = sum(len(data) for data in parts.values())
    zipped = zip_of(parts)
    del parts
    user = User.objects.create_user(
        username=f"importbench-{prefix}", email=f"importbench-{prefix}@example.org"
    )
    say(
        f"{streams} streams, {json_bytes / 1e6:.1f} MB of JSON in {files} files, "
        f"{len(zipped) / 1e6:.1f} MB zipped; uploading as {user.username}"
    )
    with tempfile.NamedTemporaryFile(suffix=".zip") as export:
        export.write(zipped)
        export.flush()
        del zipped
        connections.close_all()  # the spawned process opens its own
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            result = pool.apply(upload_run, (export.name, user.pk))
    edges = TasteEdge.objects.filter(user=user).count()
    user.delete()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    plays, top, skipped, unmatched = result["counts"]
    lines = [
        f"import_bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · "
        f"{os.cpu_count()} CPUs · load average {load} · {db_connection.vendor}",
        f"upload: Extended streaming history, {streams} streams ({tracks} tracks), "
        f"{json_bytes / 1e6:.1f} MB of JSON in {files} files, zipped -> {edges} edges, "
        f"{result['created']} catalogue rows created",
        "",
        "| status | upload to succeeded (s) | peak RSS of the job's process (MB) | before the "
        "upload (MB) | plays | top | skipped | unmatched |",
        "|---|---|---|---|---|---|---|---|",
        f"| {result['status']} | {result['seconds']:.2f} | {result['peak_mb']:.0f} | "
        f"{result['baseline_mb']:.0f} | {plays} | {top} | {skipped} | {unmatched} |",
    ]
    if result["error"]:
        lines.append(f"error: {result['error']}")
    return "\n".join(lines)
