"""The users area: my profile, public profiles, user search."""
