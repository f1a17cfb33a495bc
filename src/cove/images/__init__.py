"""Images: references, pull, push, unpack, save/load."""
