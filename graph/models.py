"""Relational bookkeeping of the graph layer: the projection outbox, per-edge versions, and
the library sizes the similarity formula divides by (kept exact, in the same transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

from musicbud.kinds import KIND_SPECS
from musicbud.models import ItemKind, Relation, User


class EdgeVersion(models.Model):
    """The last version written for one taste edge, kept after the edge is deleted.

    Every write of an edge takes the next version under a row lock, so the projection can tell
    newer from older whatever order outbox rows are applied in.
    """

    user_id = models.BigIntegerField()
    relation = models.CharField(max_length=8, choices=Relation.choices)
    kind = models.CharField(max_length=8, choices=ItemKind.choices)
    item_id = models.BigIntegerField()
    version = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user_id", "relation", "kind", "item_id"], name="edge_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.relation} {self.kind}:{self.item_id} v{self.version}"


class NodeVersion(models.Model):
    """The last version written for one user or catalogue item node (``kind`` is ``user`` or
    an item kind), kept after the row is deleted: orders the node's outbox rows like edges'."""

    kind = models.CharField(max_length=8)
    node_id = models.BigIntegerField()
    version = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "node_id"], name="node_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.node_id} v{self.version}"


class OutboxOperation(models.TextChoices):
    UPSERT = "upsert", "Create or update the edge"
    DELETE = "delete", "Delete the edge"
    USER_UPSERT = "user", "Create or update the user node"
    USER_DELETE = "user-del", "Delete the user node and its edges"
    ITEM_UPSERT = "item", "Create or update (rename) the item node"
    ITEM_DELETE = "item-del", "Delete the item node and its edges"


NODE_OPERATIONS = frozenset(
    {
        OutboxOperation.USER_UPSERT,
        OutboxOperation.USER_DELETE,
        OutboxOperation.ITEM_UPSERT,
        OutboxOperation.ITEM_DELETE,
    }
)


class ProjectionOutbox(models.Model):
    """One change still to be applied to Neo4j (``applied_at`` is null while pending): a taste
    edge, or a user or item node (changed or deleted).

    Rows carry everything the projector needs (public ids, names, edge properties) so applying
    one never reads the relational DB, and a later change of the user or item cannot break it.
    Node rows leave the other side blank: a user row has no relation or item, an item row no
    relation or user.
    """

    operation = models.CharField(max_length=8, choices=OutboxOperation.choices)
    relation = models.CharField(max_length=8, choices=Relation.choices, blank=True)
    kind = models.CharField(max_length=8, choices=ItemKind.choices, blank=True)
    version = models.BigIntegerField()
    user_pk = models.BigIntegerField(null=True, blank=True)
    user_public_id = models.UUIDField(null=True, blank=True)
    username = models.CharField(max_length=30, blank=True)
    display_name = models.CharField(max_length=80, blank=True)
    user_is_active = models.BooleanField(null=True, blank=True)
    item_pk = models.BigIntegerField(null=True, blank=True)
    item_public_id = models.UUIDField(null=True, blank=True)
    item_name = models.CharField(max_length=300, blank=True)
    rank = models.PositiveSmallIntegerField(null=True, blank=True)
    play_count = models.PositiveIntegerField(null=True, blank=True)
    last_played_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(applied_at__isnull=True),
                name="outbox_pending_idx",
            ),
            models.Index(
                fields=["created_at"],
                condition=Q(applied_at__isnull=True),
                name="outbox_pending_age_idx",
            ),
            # Whether one user's writes are all in the graph (reads of their own buds).
            models.Index(
                fields=["user_pk"],
                condition=Q(applied_at__isnull=True),
                name="outbox_pending_user_idx",
            ),
            # The worker prunes applied rows past their retention, oldest first.
            models.Index(
                fields=["applied_at"],
                condition=Q(applied_at__isnull=False),
                name="outbox_applied_idx",
            ),
        ]

    def __str__(self) -> str:
        if self.operation in (OutboxOperation.USER_UPSERT, OutboxOperation.USER_DELETE):
            target = f"user:{self.user_pk}"
        else:
            target = f"{self.relation} {self.kind}:{self.item_pk}".strip()
        return f"#{self.pk} {self.operation} {target} v{self.version}"

    @property
    def node_key(self) -> str:
        """The ``NodeState`` key of a node row's user or item."""
        if self.operation in (OutboxOperation.USER_UPSERT, OutboxOperation.USER_DELETE):
            return f"user|{self.user_public_id}"
        return f"{self.kind}|{self.item_public_id}"

    @property
    def edge_key(self) -> str:
        return f"{self.user_public_id}|{self.relation}|{self.kind}|{self.item_public_id}"


def library_column(relation: str, kind: str) -> str:
    """The ``UserLibrary`` column counting a user's items in one (relation, kind) cell."""
    return f"{Relation(relation).value}_{ItemKind(kind).value}"


def _counter() -> models.PositiveIntegerField[int, int]:
    # A database default too: the services' upserts insert one column at a time.
    return models.PositiveIntegerField(default=0, db_default=0)


class UserLibrary(models.Model):
    """How many items a user has in each (relation, kind) cell: one row per user.

    Maintained by the taste services in the write's own transaction, so it is exact; the SQL
    graph backend divides by these sizes, joining one row per candidate.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, primary_key=True, related_name="+")

    if TYPE_CHECKING:
        # The counters, added below (one per cell), read as ints: library.like_track.
        def __getattr__(self, column: str) -> int: ...

    def __str__(self) -> str:
        return f"library of {self.user_id}"


# One counter per cell, named by ``library_column`` (like_track, ..., played_genre): added the way
# Django adds a field declared in the class body, so each kind of the registry has its columns.
for _relation in Relation.values:
    for _kind in KIND_SPECS:
        UserLibrary.add_to_class(library_column(_relation, _kind), _counter())


class ItemPopularity(models.Model):
    """How many users have one item in one (relation, kind) cell (the item weight's df).

    Maintained with the library sizes in the taste write's own transaction; counting holders
    of every item per query would scan as many index entries as the bud search itself.
    """

    relation = models.CharField(max_length=8, choices=Relation.choices)
    kind = models.CharField(max_length=8, choices=ItemKind.choices)
    item_id = models.BigIntegerField()
    holders = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["relation", "kind", "item_id"], name="item_popularity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.relation} {self.kind}:{self.item_id}: {self.holders}"


class CellPopulation(models.Model):
    """How many users have anything in one (relation, kind) cell (the stop-item rule's N), kept
    exact with the library sizes: counting them per query would scan every library-size row."""

    relation = models.CharField(max_length=8, choices=Relation.choices)
    kind = models.CharField(max_length=8, choices=ItemKind.choices)
    users = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["relation", "kind"], name="cell_population_unique")
        ]

    def __str__(self) -> str:
        return f"{self.relation} {self.kind}: {self.users} users"


class RebuildCheckpoint(models.Model):
    """Progress of ``graph_rebuild``, so an interrupted rebuild resumes where it stopped."""

    name = models.CharField(max_length=40, unique=True)
    phase = models.CharField(max_length=20)
    last_id = models.BigIntegerField(default=0)
    items_done = models.BigIntegerField(default=0)
    edges_done = models.BigIntegerField(default=0)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.phase} after {self.last_id}"
