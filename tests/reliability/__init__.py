"""Reliability tests: the real app under gunicorn, several worker processes, one database."""
