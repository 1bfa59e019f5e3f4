"""What every front end (the Discord bot, the REST API, the terminal) shares to take a request."""
