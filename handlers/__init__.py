"""Thin adapters between chat platforms (and social networks) and the platform-neutral core in `bot/`."""
