"""Chat: channels with roles, direct conversations, messages and blocks; their services,
selectors, socket tickets and fan-out. The HTTP and WebSocket surface is ``api/chat``."""
