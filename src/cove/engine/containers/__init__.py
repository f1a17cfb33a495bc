"""Containers as the engine sees them: records, their store, lifecycle and logs."""
