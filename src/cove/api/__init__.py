"""The Docker Engine API server (HTTP over a unix socket) and its handlers."""
