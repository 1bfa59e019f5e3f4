"""Front ends: the Discord bot and the `reelbot` command. They parse and enqueue, never render."""
