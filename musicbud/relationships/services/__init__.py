"""Relationship writes, one module per area: blocks, privacy, friends, compare links."""
