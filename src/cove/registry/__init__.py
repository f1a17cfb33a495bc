"""Registry client (OCI distribution spec 1.1): pull, push, auth, TLS."""

from cove.registry.auth import CredentialStore, default_config_path
from cove.registry.client import RegistryClient
from cove.registry.errors import (
    DigestMismatch,
    PermissionDenied,
    RateLimited,
    RegistryError,
    Unauthenticated,
    Unavailable,
)
from cove.registry.login import login, logout
from cove.registry.pull import pull
from cove.registry.push import push

__all__ = [
    "CredentialStore",
    "DigestMismatch",
    "PermissionDenied",
    "RateLimited",
    "RegistryClient",
    "RegistryError",
    "Unauthenticated",
    "Unavailable",
    "default_config_path",
    "login",
    "logout",
    "pull",
    "push",
]
