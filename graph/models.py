"""Relational bookkeeping of the graph projection (the outbox lives here)."""
