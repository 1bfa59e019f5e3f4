"""Delivering: finished clips posted once, live progress, where each goes, the result buttons."""
