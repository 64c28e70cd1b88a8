"""History uploads: a provider's export of a user's listening, stored, then read as a stream
by a background job into likes, top items and plays."""
