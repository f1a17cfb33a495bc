"""Endpoint handlers, one module per area of the Engine API."""
