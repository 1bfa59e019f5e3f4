"""The `reelbot` command and the local stack: `up`, a private Redis, the console, status."""
