"""Members' uploads: pictures for /animate and videos for /restyle, judged by content."""
