"""The Neo4j labels and relationship types of the projection, named in this one place."""

from __future__ import annotations

from musicbud.kinds import KINDS
from musicbud.models import Relation

USER = "User"
LABEL_FOR_KIND: dict[str, str] = {spec.kind.value: spec.graph_label for spec in KINDS}
KIND_FOR_LABEL: dict[str, str] = {label: kind for kind, label in LABEL_FOR_KIND.items()}
TYPE_FOR_RELATION: dict[str, str] = {
    Relation.LIKE: "LIKES",
    Relation.TOP: "TOP",
    Relation.PLAYED: "PLAYED",
}
