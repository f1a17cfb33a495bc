"""Registry client (OCI distribution spec 1.1): pull, push, auth, TLS."""

from cove.registry.auth import CredentialStore, default_config_path
from cove.registry.client import RegistryClient, Upload
from cove.registry.errors import (
    ConnectionLost,
    DigestMismatch,
    PermissionDenied,
    RateLimited,
    RegistryError,
    ServerError,
    Unauthenticated,
    Unavailable,
)
from cove.registry.login import login, logout
from cove.registry.progress import Message, MessageSink, Reporter
from cove.registry.pull import pull
from cove.registry.push import push

__all__ = [
    "ConnectionLost",
    "CredentialStore",
    "DigestMismatch",
    "Message",
    "MessageSink",
    "PermissionDenied",
    "RateLimited",
    "RegistryClient",
    "RegistryError",
    "Reporter",
    "ServerError",
    "Unauthenticated",
    "Unavailable",
    "Upload",
    "default_config_path",
    "login",
    "logout",
    "pull",
    "push",
]
