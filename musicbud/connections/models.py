"""The connections' rows: a user's link to a music service (with its tokens), an authorization
in flight, and the sync jobs. App label ``musicbud`` (registered by ``musicbud.models``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from musicbud.connections.providers.registry import PROVIDER_CHOICES


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"


class ProviderConnection(models.Model):
    """A user's link to their account at one music service, with its tokens (encrypted).

    The token columns hold Fernet tokens (``token_cipher``), never plaintext.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections"
    )
    provider = models.CharField(max_length=32, choices=PROVIDER_CHOICES)
    status = models.CharField(
        max_length=12, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED
    )
    account_id = models.CharField(max_length=200)
    account_name = models.CharField(max_length=200, blank=True)
    access_token = models.TextField(blank=True)
    refresh_token = models.TextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=500, blank=True)
    connected_at = models.DateTimeField()
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # Syncs failed in a row (reset by a success), and when the scheduler may try again.
    sync_failures = models.PositiveIntegerField(default=0)
    sync_retry_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="connection_unique_user")
        ]
        indexes = [models.Index(fields=["last_synced_at"], name="connection_last_synced_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.provider}:{self.account_id}"


class AuthorizationState(models.Model):
    """One authorization attempt in flight: random, single-use, bound to a user and to the
    browser that asked (a cookie), short-lived.

    Only the SHA-256 of the state and of the browser's cookie are stored; the PKCE verifier is
    encrypted like a token.
    """

    state_hash = models.CharField(max_length=64, unique=True)
    browser_hash = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=32, choices=PROVIDER_CHOICES)
    code_verifier = models.TextField(blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="auth_state_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.provider} until {self.expires_at:%H:%M:%S}"


class SyncStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ACTIVE_SYNC_STATUSES = (SyncStatus.QUEUED, SyncStatus.RUNNING)


class SyncPhase(models.TextChoices):
    """Where a sync is (a failed one keeps the phase it failed in)."""

    WAITING = "waiting", "Waiting for the task runner"
    FETCHING = "fetching", "Reading the library from the provider"
    APPLYING = "applying", "Matching the items and writing the difference"
    DONE = "done", "Done"


class SyncJob(models.Model):
    """One sync of a connection. The database holds at most one queued or running job per
    connection, so neither a double click nor the periodic re-sync can start a second."""

    connection = models.ForeignKey(
        ProviderConnection, on_delete=models.CASCADE, related_name="sync_jobs"
    )
    status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.QUEUED)
    phase = models.CharField(max_length=10, choices=SyncPhase.choices, default=SyncPhase.WAITING)
    # Items fetched so far, of ``total``: what the provider said it holds, as far as it has
    # said (null until it says anything); once fetched, the items fetched.
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    # {"like": {"track": {"added": n, "removed": n, "unchanged": n}, ...}, ...}
    counts = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written as the job runs (musicbud/job_liveness.py): a running job silent for long died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection"],
                condition=models.Q(status__in=ACTIVE_SYNC_STATUSES),
                name="sync_job_one_active_per_connection",
            )
        ]
        indexes = [models.Index(fields=["connection", "-id"], name="sync_job_latest_idx")]

    def __str__(self) -> str:
        return f"sync #{self.pk} of {self.connection_id}: {self.status}"
