"""Chat: channels with roles, direct conversations, messages and blocks (relational models)."""
