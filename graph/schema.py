"""Install the projection's constraints and indexes from the neomodel classes, idempotently:
skipped when ``SHOW CONSTRAINTS/INDEXES`` lists them (ArcadeDB refuses a second install)."""

from __future__ import annotations

from dataclasses import dataclass

from neomodel import AsyncStructuredNode

from graph import nodes
from graph.connection import cypher_read, cypher_write

NODE_CLASSES: tuple[type[AsyncStructuredNode], ...] = (
    nodes.UserNode,
    *nodes.ITEM_NODES.values(),
    nodes.EdgeStateNode,
)


@dataclass(frozen=True, slots=True)
class SchemaRule:
    name: str
    statement: str


def schema_rules() -> list[SchemaRule]:
    """Every unique constraint and index the node classes declare (neomodel's names)."""
    rules: list[SchemaRule] = []
    for cls in NODE_CLASSES:
        label = cls.__label__
        for name, prop in cls.defined_properties(aliases=False, rels=False).items():
            column = prop.get_db_property_name(name)
            if prop.unique_index:
                rule = f"constraint_unique_{label}_{column}"
                rules.append(
                    SchemaRule(
                        rule,
                        f"CREATE CONSTRAINT `{rule}` IF NOT EXISTS "
                        f"FOR (n:`{label}`) REQUIRE n.`{column}` IS UNIQUE",
                    )
                )
            elif prop.index:
                rule = f"index_{label}_{column}"
                rules.append(
                    SchemaRule(
                        rule,
                        f"CREATE INDEX `{rule}` IF NOT EXISTS FOR (n:`{label}`) ON (n.`{column}`)",
                    )
                )
    return rules


async def _existing_names() -> set[str]:
    constraints = await cypher_read("SHOW CONSTRAINTS")
    indexes = await cypher_read("SHOW INDEXES")
    return {str(row["name"]) for row in [*constraints, *indexes]}


async def graph_labels_install() -> dict[str, bool]:
    """Create what is missing; returns each rule's name and whether this run created it."""
    existing = await _existing_names()
    report: dict[str, bool] = {}
    for rule in schema_rules():
        if rule.name in existing:
            report[rule.name] = False
            continue
        await cypher_write(rule.statement)
        report[rule.name] = True
    missing = {rule.name for rule in schema_rules()} - await _existing_names()
    if missing:
        raise RuntimeError(f"schema rules missing after install: {', '.join(sorted(missing))}")
    return report
