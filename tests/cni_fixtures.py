"""Host firewall state that networking tests leave by side effect, and its removal.

The CNI plugins' shared iptables chains (CNI-FORWARD, CNI-ADMIN, CNI-HOSTPORT-*):
the plugins make them on first use and never remove them. Tests that run plugins
remove the ones that did not exist before them, with the jumps into them."""

from __future__ import annotations

import contextlib
import shlex
import subprocess
from collections.abc import Iterator

TABLES = ("filter", "nat")


def cni_chains() -> set[tuple[str, str]]:
    out = set()
    for table in TABLES:
        proc = subprocess.run(["iptables", "-w", "5", "-t", table, "-S"], capture_output=True,
                              text=True, check=False)
        for line in proc.stdout.splitlines():
            words = line.split()
            if words[:1] == ["-N"] and words[1].startswith("CNI-"):
                out.add((table, words[1]))
    return out


def remove_chains(chains: set[tuple[str, str]]) -> None:
    for table in TABLES:
        mine = {chain for t, chain in chains if t == table}
        if not mine:
            continue
        rules = subprocess.run(["iptables", "-w", "5", "-t", table, "-S"],
                               capture_output=True, text=True, check=False).stdout
        for line in rules.splitlines():
            words = shlex.split(line)
            if words[:1] == ["-A"] and words[1] not in mine and \
                    any(w in mine for w in words):
                subprocess.run(["iptables", "-w", "5", "-t", table, "-D", *words[1:]],
                               capture_output=True, check=False)
        for chain in mine:
            subprocess.run(["iptables", "-w", "5", "-t", table, "-F", chain],
                           capture_output=True, check=False)
        for chain in mine:
            subprocess.run(["iptables", "-w", "5", "-t", table, "-X", chain],
                           capture_output=True, check=False)


@contextlib.contextmanager
def new_cni_chains_removed() -> Iterator[None]:
    before = cni_chains()
    try:
        yield
    finally:
        remove_chains(cni_chains() - before)


def nft_tables() -> set[str]:
    """``family name`` of every nftables table (iptables-nft's included)."""
    proc = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                          check=False)
    return {line.split(None, 1)[1] for line in proc.stdout.splitlines()
            if line.startswith("table ")}


def _empty(table: str) -> bool:
    proc = subprocess.run(["nft", "-j", "list", "table", *table.split()], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        return False
    import json
    items = json.loads(proc.stdout).get("nftables", [])
    if any("rule" in item or "set" in item or "map" in item for item in items):
        return False
    # iptables-nft's builtin chains keep a policy; only ACCEPT ones are "nothing".
    return all(item["chain"].get("policy", "accept") == "accept"
               for item in items if "chain" in item)


@contextlib.contextmanager
def new_empty_tables_removed() -> Iterator[None]:
    """Tables that appear during the block (iptables-nft's filter/nat, made by dockerd, the
    CNI plugins or Cove's FORWARD rules) and are empty at its end are deleted."""
    before = nft_tables()
    try:
        yield
    finally:
        remove_new_empty_tables(before)


def remove_new_empty_tables(before: set[str]) -> None:
    for table in sorted(nft_tables() - before):
        if _empty(table):
            subprocess.run(["nft", "delete", "table", *table.split()], capture_output=True,
                           check=False)
