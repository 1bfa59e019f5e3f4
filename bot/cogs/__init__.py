"""One cog per concern: create, remix, moderation, gallery, info."""
