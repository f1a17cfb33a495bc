"""Container networking: bridges, addresses and the packet filter around them."""
