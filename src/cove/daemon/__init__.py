"""`coved`: configuration, start-up and the serving loop."""
