"""The Discord front end, in feature folders: intake, moderation, delivery, media, cogs."""
