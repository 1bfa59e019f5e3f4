"""The REST front end: members' tokens ask for clips through the same intake as Discord."""
