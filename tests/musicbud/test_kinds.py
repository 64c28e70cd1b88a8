"""Every kind of the registry is everywhere a kind must be, and a half-declared one is named."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import cast

import pytest
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.core.exceptions import FieldDoesNotExist
from django.db import models

import api.legacy.api  # noqa: F401 - adding its routers declares the legacy ROUTES
from api.catalogue.schemas import KindPath
from api.legacy.operations import ROUTES
from api.legacy.schemas import ITEM_ID_INPUTS
from graph.labels import KIND_FOR_LABEL, LABEL_FOR_KIND
from graph.models import UserLibrary
from graph.nodes import ITEM_NODES
from graph.schema import NODE_CLASSES
from graph.scoring import KIND_ORDER, KIND_WEIGHT
from musicbud.admin import CatalogueAdmin, TasteEdgeAdmin
from musicbud.kinds import (
    ITEM_MODELS,
    KIND_BY_MODEL,
    KIND_SPECS,
    KINDS,
    MATCH_ORDER,
    KindSpec,
    item_id_sql,
)
from musicbud.models import CatalogueItem, ItemKind, Relation, TasteEdge
from tests.fixtures.processes import ROOT
from tests.test_layering import _imports

LEGACY_WORDS = {Relation.LIKE: "liked", Relation.TOP: "top", Relation.PLAYED: "played"}


def _taste_edge_foreign_key(spec: KindSpec) -> str | None:
    """What is wrong with the kind's ``TasteEdge`` foreign key, or None."""
    kind = spec.kind.value
    try:
        field = TasteEdge._meta.get_field(kind)
    except FieldDoesNotExist:
        return f"no TasteEdge foreign key {kind!r} (musicbud/models.py)"
    if not isinstance(field, models.ForeignKey):
        return f"TasteEdge.{kind} is not a foreign key"
    wanted = (spec.model, True, True, models.CASCADE, "+", False)
    remote = field.remote_field
    found = (
        field.related_model,
        field.null,
        field.blank,
        getattr(remote, "on_delete", None),
        getattr(remote, "related_name", None),
        getattr(field, "db_index", None),
    )
    if found != wanted:
        return f"TasteEdge.{kind} is not a nullable CASCADE foreign key to {spec.model.__name__}"
    return None


def _in_item_constraint(kind: str) -> bool:
    constraint = next(
        c for c in TasteEdge._meta.constraints if c.name == "taste_edge_item_matches_kind"
    )
    condition = cast(models.Q, cast(models.CheckConstraint, constraint).condition)
    branches = condition.children if condition.connector == models.Q.OR else [condition]
    return any(("kind", kind) in cast(models.Q, branch).children for branch in branches)


def _relation_field(model: type[models.Model], name: str) -> bool:
    try:
        return model._meta.get_field(name).is_relation
    except FieldDoesNotExist:
        return False


def lacks(spec: KindSpec) -> list[str]:
    """Every place the kind is missing from, each named with where to add it."""
    kind, plural, label = spec.kind.value, spec.plural, spec.graph_label
    checks: list[tuple[bool, str]] = [
        (kind in ItemKind.values, "not a member of ItemKind (musicbud/models.py)"),
        (
            KIND_SPECS.get(kind) is spec and ITEM_MODELS.get(kind) is spec.model,
            "not in KINDS (musicbud/kinds.py)",
        ),
        (
            issubclass(spec.model, CatalogueItem) and not spec.model._meta.abstract,
            f"model {spec.model.__name__} is not a concrete CatalogueItem",
        ),
        (
            KIND_BY_MODEL.get(spec.model, kind) == kind,
            f"model {spec.model.__name__} is already kind {KIND_BY_MODEL.get(spec.model)!r}",
        ),
        (_in_item_constraint(kind), "not in TasteEdge's check taste_edge_item_matches_kind"),
        (
            f"taste_edge_unique_user_{kind}" in {c.name for c in TasteEdge._meta.constraints},
            f"no unique constraint taste_edge_unique_user_{kind}",
        ),
        (
            f"taste_edge_{kind}_users_idx" in {i.name for i in TasteEdge._meta.indexes},
            f"no index taste_edge_{kind}_users_idx",
        ),
        (spec.column in item_id_sql(), f"{spec.column} is not in the item id's COALESCE"),
        *(
            (
                _counter_exists(f"{relation}_{kind}"),
                f"no UserLibrary column {relation}_{kind} (graph/models.py)",
            )
            for relation in Relation.values
        ),
        (
            plural in {path.value for path in KindPath} and KindPath(plural).item_kind == kind,
            f"no URL plural {plural!r} in KindPath (api/catalogue/schemas.py)",
        ),
        (
            LABEL_FOR_KIND.get(kind) == label and KIND_FOR_LABEL.get(label) == kind,
            f"graph label {label!r} is not its own",
        ),
        (
            getattr(ITEM_NODES.get(kind), "__label__", None) == label
            and ITEM_NODES[kind] in NODE_CLASSES,
            f"no node class labelled {label!r} in ITEM_NODES (graph/nodes.py)",
        ),
        (KIND_WEIGHT.get(kind) == spec.weight and spec.weight > 0, "no positive score weight"),
        (kind in KIND_ORDER, "not in the score's kind order"),
        (spec.kind in MATCH_ORDER, "not in the provider match order"),
        (
            not spec.credited or spec.match_rank > KIND_SPECS[ItemKind.ARTIST].match_rank,
            "credits artists but is matched before them",
        ),
        *(
            (
                _relation_field(spec.model, name),
                f"detail relation {name!r} is not a relation of {spec.model.__name__}",
            )
            for name in (*spec.detail_select, *spec.detail_prefetch)
        ),
        (
            _catalogue_admin(spec.model),
            f"no catalogue admin for {spec.model.__name__}",
        ),
        (
            kind in TasteEdgeAdmin.list_select_related,
            f"no {kind!r} item joined in the taste edge admin (its item column reads it)",
        ),
        *(
            (
                all(
                    path in ROUTES
                    for path in (
                        f"me/{LEGACY_WORDS[relation]}/{plural}",
                        f"bud/{LEGACY_WORDS[relation]}/{plural}",
                        f"bud/common/{LEGACY_WORDS[relation]}/{plural}",
                    )
                ),
                f"no legacy routes for {LEGACY_WORDS[relation]} {plural}",
            )
            for relation in spec.legacy_lists
        ),
        (
            not spec.legacy_item_buds or (f"bud/{kind}" in ROUTES and kind in ITEM_ID_INPUTS),
            f"no legacy route bud/{kind} with its input in ITEM_ID_INPUTS (api/legacy/schemas.py)",
        ),
    ]
    return [f"{kind}: {what}" for ok, what in checks if not ok]


def _catalogue_admin(model: type[models.Model]) -> bool:
    try:
        return isinstance(admin.site.get_model_admin(model), CatalogueAdmin)
    except NotRegistered:
        return False


def _counter_exists(column: str) -> bool:
    try:
        field = UserLibrary._meta.get_field(column)
    except FieldDoesNotExist:
        return False
    return isinstance(field, models.PositiveIntegerField)


@pytest.mark.parametrize("spec", KINDS, ids=[spec.kind.value for spec in KINDS])
def test_every_kind_is_everywhere_a_kind_must_be(spec: KindSpec) -> None:
    assert lacks(spec) == []
    assert _taste_edge_foreign_key(spec) is None


def test_the_registry_holds_every_item_kind_in_its_order_once() -> None:
    assert [spec.kind.value for spec in KINDS] == ItemKind.values
    for attribute in ("plural", "graph_label", "match_rank", "model"):
        values = [getattr(spec, attribute) for spec in KINDS]
        assert len(set(values)) == len(values), attribute
    # Every item foreign key of TasteEdge belongs to a kind.
    item_keys = {
        field.name
        for field in TasteEdge._meta.get_fields()
        if isinstance(field, models.ForeignKey) and field.name != "user"
    }
    assert item_keys == set(KIND_SPECS)


class _Podcast(StrEnum):
    PODCAST = "podcast"


def test_a_half_declared_kind_is_named_with_what_it_lacks() -> None:
    # Declared in the registry only: nothing else knows it.
    podcast = replace(
        KIND_SPECS[ItemKind.GENRE],
        kind=cast(ItemKind, _Podcast.PODCAST),
        plural="podcasts",
        graph_label="Podcast",
        legacy_lists=(Relation.TOP,),
    )

    assert lacks(podcast) == [
        "podcast: not a member of ItemKind (musicbud/models.py)",
        "podcast: not in KINDS (musicbud/kinds.py)",
        "podcast: model Genre is already kind 'genre'",
        "podcast: not in TasteEdge's check taste_edge_item_matches_kind",
        "podcast: no unique constraint taste_edge_unique_user_podcast",
        "podcast: no index taste_edge_podcast_users_idx",
        "podcast: podcast_id is not in the item id's COALESCE",
        "podcast: no UserLibrary column like_podcast (graph/models.py)",
        "podcast: no UserLibrary column top_podcast (graph/models.py)",
        "podcast: no UserLibrary column played_podcast (graph/models.py)",
        "podcast: no URL plural 'podcasts' in KindPath (api/catalogue/schemas.py)",
        "podcast: graph label 'Podcast' is not its own",
        "podcast: no node class labelled 'Podcast' in ITEM_NODES (graph/nodes.py)",
        "podcast: no positive score weight",
        "podcast: not in the score's kind order",
        "podcast: not in the provider match order",
        "podcast: no 'podcast' item joined in the taste edge admin (its item column reads it)",
        "podcast: no legacy routes for top podcasts",
        "podcast: no legacy route bud/podcast with its input in ITEM_ID_INPUTS "
        "(api/legacy/schemas.py)",
    ]
    assert _taste_edge_foreign_key(podcast) == (
        "no TasteEdge foreign key 'podcast' (musicbud/models.py)"
    )


def test_the_registry_reads_nothing_of_the_project_but_the_models() -> None:
    # graph/ may import it (tests/test_layering.py): it must not bring anything else along.
    project = ("api", "config", "fastpath", "graph", "musicbud", "tooling")
    imported = {
        module
        for _, module in _imports(ROOT / "musicbud" / "kinds.py")
        if module.partition(".")[0] in project
    }

    assert imported == {"musicbud.models"}


@pytest.mark.parametrize("spec", KINDS, ids=lambda spec: spec.kind.value)
def test_what_a_kind_lists_is_a_field_of_every_list_item(spec: KindSpec) -> None:
    from api.catalogue.schemas import CatalogueSearchParams, ItemOut

    # A related item a kind's lists show is an ItemOut field of that name; a filter, a query
    # parameter of the catalogue list; both are fields of the model.
    for name in (*spec.list_select, *spec.list_prefetch):
        assert name in ItemOut.model_fields, f"{spec.kind}: add {name} to ItemOut"
        spec.model._meta.get_field(name)
    for name, relation in spec.filters.items():
        assert name in CatalogueSearchParams.model_fields, f"{spec.kind}: add ?{name}="
        spec.model._meta.get_field(relation)
    if spec.images_from is not None:
        spec.model._meta.get_field(spec.images_from)
