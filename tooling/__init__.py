"""Development tooling, a Django app installed outside production only: the demo, benchmark and
evaluation commands, stand-in servers, the test Bolt server. No production package imports it;
the production image does not ship it."""
