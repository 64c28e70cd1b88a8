"""Provider connections: link Spotify, Last.fm, YouTube Music and MyAnimeList accounts, sync
taste from them."""
