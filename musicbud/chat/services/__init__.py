"""Chat writes, one module per area: channels, membership, moderation, messages, blocks and
read markers. Each is one transaction in one thread hop, fanned out only once stored."""
