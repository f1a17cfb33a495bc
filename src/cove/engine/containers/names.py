"""Random container names in Docker's style: adjective_noun."""

from __future__ import annotations

import secrets

# Word lists written for Cove: calm adjectives, and coastal and marine nouns.
_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "cool", "crisp", "daring",
    "eager", "fair", "fancy", "fond", "gentle", "glad", "golden", "happy", "hardy",
    "keen", "kind", "lively", "lucid", "merry", "mellow", "modest", "nimble", "noble",
    "patient", "placid", "proud", "quick", "quiet", "rapid", "serene", "sharp", "shiny",
    "silent", "sleek", "smart", "snowy", "steady", "sturdy", "sunny", "swift", "tender",
    "tidy", "vivid", "warm", "wise", "witty", "zesty",
)
_NOUNS = (
    "anchor", "atoll", "bay", "beacon", "breaker", "buoy", "cape", "coral", "cove",
    "current", "delta", "dune", "estuary", "fjord", "gull", "harbor", "heron", "inlet",
    "island", "jetty", "kelp", "lagoon", "lighthouse", "mariner", "marlin", "narwhal",
    "oyster", "pebble", "pelican", "pier", "puffin", "quay", "reef", "sandbar", "seal",
    "shoal", "shore", "skiff", "sound", "spray", "strait", "surf", "tern", "tide",
    "urchin", "wave", "whale", "wharf",
)


def random_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}"
