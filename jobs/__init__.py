"""The Redis side every process shares: admission, progress and result streams, liveness."""
