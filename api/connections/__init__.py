"""Provider connections: link Spotify and Last.fm accounts, sync taste from them."""
