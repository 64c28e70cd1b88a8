"""Relationships: friend requests and friendships, privacy settings, compare links, and the
one visibility rule (blocks both ways, discoverability, taste visibility) every listing uses."""
