"""Chat over REST (router) and WebSocket (consumer), and the WebSocket routing."""
