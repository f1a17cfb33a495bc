"""Coexistence with dockerd's iptables rules.

dockerd sets the policy of iptables' filter FORWARD chain to DROP (with iptables-nft
that is the base chain ``FORWARD`` of nft table ``ip filter``). A drop in any base
chain is final, so Cove's forwarded traffic would die there however Cove's own table
judges it. For each Cove bridge Cove therefore inserts, once,

    -I FORWARD -i <bridge> -j ACCEPT -m comment --comment cove
    -I FORWARD -o <bridge> -j ACCEPT -m comment --comment cove

These accepts only end that one chain; Cove's isolation drops in its own table
still apply. They are inserted whenever the ``iptables`` binary exists, even if no
filter table exists yet: dockerd started after Cove inserts its own jumps at the
top of FORWARD and sets the DROP policy but never flushes FORWARD, so our rules
must already be there (an otherwise empty FORWARD chain with policy ACCEPT changes
nothing).
"""

from __future__ import annotations

import itertools
import logging
import shlex
import shutil
import subprocess

from cove.network.firewall.nft import FirewallError

log = logging.getLogger(__name__)

COMMENT = "cove"
_NO_SUCH_RULE = 1  # iptables -C: the rule (or the chain/table) does not exist


class IptablesCompat:
    """Keeps Cove's ACCEPT rules in iptables' filter FORWARD chain."""

    def __init__(self, binary: str = "iptables") -> None:
        self._binary = shutil.which(binary)
        if self._binary is None:
            log.debug("no %s binary: skipping the iptables FORWARD accept rules", binary)

    @property
    def available(self) -> bool:
        return self._binary is not None

    def add_bridge(self, bridge: str) -> None:
        """Insert the accept rules for ``bridge`` unless they are there already."""
        if self._binary is None:
            return
        for rule in self._rules(bridge):
            if not self._exists(rule):
                self._run(["-I", *rule])

    def remove_bridge(self, bridge: str) -> None:
        """Delete the accept rules for ``bridge`` (each copy, if inserted twice)."""
        if self._binary is None:
            return
        for rule in self._rules(bridge):
            while self._exists(rule):
                self._run(["-D", *rule])

    def remove_all(self) -> None:
        """Delete every FORWARD rule carrying Cove's comment (daemon start reconciliation)."""
        if self._binary is None:
            return
        proc = self._call(["-S", "FORWARD"])
        if proc.returncode != 0:
            log.debug("iptables -S FORWARD failed (%s): nothing to remove", proc.stderr.strip())
            return
        for line in proc.stdout.splitlines():
            words = shlex.split(line)
            if words[:2] != ["-A", "FORWARD"] or not _has_cove_comment(words):
                continue
            self._run(["-D", *words[1:]])

    @staticmethod
    def _rules(bridge: str) -> list[list[str]]:
        tail = ["-j", "ACCEPT", "-m", "comment", "--comment", COMMENT]
        return [["FORWARD", "-i", bridge, *tail], ["FORWARD", "-o", bridge, *tail]]

    def _exists(self, rule: list[str]) -> bool:
        proc = self._call(["-C", *rule])
        if proc.returncode == 0:
            return True
        if proc.returncode == _NO_SUCH_RULE:
            return False
        raise FirewallError(f"iptables -C {shlex.join(rule)} failed: {proc.stderr.strip()}")

    def _run(self, args: list[str]) -> None:
        proc = self._call(args)
        if proc.returncode != 0:
            raise FirewallError(f"iptables {shlex.join(args)} failed: {proc.stderr.strip()}")
        log.debug("iptables %s", shlex.join(args))

    def _call(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        assert self._binary is not None
        # -w: wait for the xtables lock instead of failing while dockerd holds it.
        return subprocess.run([self._binary, "-w", "5", *args], capture_output=True,
                              text=True, check=False)


def _has_cove_comment(words: list[str]) -> bool:
    return any(a == "--comment" and b == COMMENT for a, b in itertools.pairwise(words))
