"""The `cove` command line: a client of the Engine API."""
