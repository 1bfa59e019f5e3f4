"""Moderating: review of flagged requests and held or reported clips, bans, their buttons."""
