"""Private servers started from installed binaries (own data dir, free port, removed after)."""
