"""The buds area: my buds, what I share with someone, an item's buds, recommendations."""
