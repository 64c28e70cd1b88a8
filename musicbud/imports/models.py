"""The rows of history uploads: one import job per upload, with its stored file until it ends."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ACTIVE_IMPORT_STATUSES = (ImportStatus.QUEUED, ImportStatus.RUNNING)


class ImportFormat(models.TextChoices):
    SPOTIFY_EXTENDED = "spotify_extended", "Spotify Extended streaming history"
    SPOTIFY_ACCOUNT = "spotify_account", "Spotify Account data"
    YTMUSIC_TAKEOUT = "ytmusic_takeout", "YouTube Music (Google Takeout)"


class ImportJob(models.Model):
    """One upload of a user's export and the job reading it. The database holds at most one
    queued or running job per user. ``stored_name`` names the upload in the imports storage
    until the job ends (then it is deleted and the name cleared)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs"
    )
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    format = models.CharField(max_length=20, choices=ImportFormat.choices)
    stored_name = models.CharField(max_length=255, blank=True)
    # The name the file was uploaded under (error messages name a single JSON file by it).
    upload_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    # Streams (or library entries) read so far, of all there are in the upload.
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    plays = models.PositiveIntegerField(default=0)
    likes = models.PositiveIntegerField(default=0)
    top = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    unmatched = models.PositiveIntegerField(default=0)
    # What the write did: {"played": {"track": {"added": n, "updated": n, ...}}, ...}, and
    # the catalogue rows it created.
    changes = models.JSONField(default=dict, blank=True)
    items_created = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written as the job runs (musicbud/job_liveness.py): a running job silent for long died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=ACTIVE_IMPORT_STATUSES),
                name="import_job_one_active_per_user",
            )
        ]
        indexes = [models.Index(fields=["user", "-id"], name="import_job_latest_idx")]

    def __str__(self) -> str:
        return f"import #{self.pk} of {self.user_id}: {self.status}"
