"""The taste area: my likes, top items, plays and the taste import."""
