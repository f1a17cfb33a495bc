"""Cove: a container platform (OCI runtime, images, Docker-compatible engine)."""

__version__ = "0.1.0"
