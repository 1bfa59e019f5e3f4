"""Asking: a member's request read, checked against bans and caps, screened, and submitted."""
