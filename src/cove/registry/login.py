"""login / logout: verify credentials against /v2/ and keep them in config.json."""

from __future__ import annotations

from cove.registry.auth import CredentialStore
from cove.registry.client import RegistryClient


def login(
    host: str,
    user: str,
    password: str,
    credentials: CredentialStore,
    *,
    insecure: bool = False,
    certs_dir: str = "/etc/cove/certs.d",
) -> None:
    """Check ``user``/``password`` with the registry (Unauthenticated if refused), then store."""
    with RegistryClient(
        host, insecure=insecure, certs_dir=certs_dir, user=(user, password)
    ) as client:
        client.ping()
    credentials.store(host, user, password)


def logout(host: str, credentials: CredentialStore) -> None:
    """Forget ``host``'s credentials (NotFound if there were none)."""
    credentials.erase(host)
