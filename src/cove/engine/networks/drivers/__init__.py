"""Network drivers: how an endpoint is made in a container's network namespace."""
