"""The CNI plugins' shared iptables chains (CNI-FORWARD, CNI-ADMIN, CNI-HOSTPORT-*):
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
