"""Adapters that read bytes from the outside: HTTP, S3 and local files."""
