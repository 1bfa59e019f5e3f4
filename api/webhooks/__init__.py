"""Webhooks: a clip's lifecycle events sent to its owner's URLs, signed as Standard Webhooks,
from a durable outbox in the gallery database (at least once, in order per clip and URL)."""
