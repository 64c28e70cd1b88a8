"""The catalogue area: search and item detail."""
