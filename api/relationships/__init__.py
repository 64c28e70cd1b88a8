"""Relationships: privacy, friends and requests, compatibility, compare links."""
