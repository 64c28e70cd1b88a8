"""Staff-only API operations, each guarded by a Django permission."""
