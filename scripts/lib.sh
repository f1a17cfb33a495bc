# Shared by scripts/quickstart and scripts/test: install what Cove needs.
# Source it from bash running with `set -euo pipefail`; it defines functions only
# (plus COVE_REPO and COVE_VENV).

COVE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COVE_VENV="$COVE_REPO/.venv"
# Debian's own interpreter: it starts faster than a pyenv one, and every
# cove-runtime call pays the interpreter's start-up.
COVE_PYTHON=/usr/bin/python3
COVE_PIP_VERSION=24.3.1

# python3-venv: the venv; busybox-static: the test image; runc, crun: reference
# runtimes for the benchmark; linux-libc-dev: UAPI headers for
# scripts/gen_syscall_table.py; docker-registry, skopeo, zstd: registry and layer tests (issue 3);
# conmon: the engine's per-container monitor; tini: its --init (tini-static);
# python3-yaml: reads the Engine API's swagger for the response-schema tests;
# docker.io: a reference dockerd for the interop tests and bench/engine.py (never started as
# a service: see cove_install_system_packages); iproute2: network checks; procps: `ps` for
# `cove-runtime ps`; time: GNU time, which bench/runtime.py starts runtimes
# with to read their own peak RSS; jq: handy for reading `state` output;
# nftables: libnftables for Cove's firewall table (and `nft` for tests); iptables: rules in
# a Docker-managed FORWARD chain; containernetworking-plugins: the CNI plugins (/usr/lib/cni).
COVE_APT_PACKAGES=(python3-venv busybox-static runc crun linux-libc-dev iproute2 procps time jq docker-registry skopeo zstd conmon tini python3-yaml docker.io nftables iptables containernetworking-plugins)

cove_say() {
    printf '==> %s\n' "$*" >&2
}

cove_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

cove_require_root() {
    [[ $(id -u) -eq 0 ]] || cove_die "$1 must run as root (containers need it)"
}

# Install the Debian packages that are missing; do nothing (not even
# `apt-get update`) when all of them are installed already.
cove_install_system_packages() {
    local pkg missing=()
    for pkg in "${COVE_APT_PACKAGES[@]}"; do
        if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $(id -u) -eq 0 ]] || cove_die "missing Debian packages (${missing[*]}): run as root"
    cove_say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null >/dev/null || { sleep 5; apt-get update -qq </dev/null >/dev/null; }
    # Packages with services (docker.io) must not start them: a host dockerd would add
    # its bridge and iptables rules. policy-rc.d refuses every start during the install.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local rc=0
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null || rc=$?
    [[ $made_policy -eq 1 ]] && rm -f "$policy"
    return $rc
}

# A fingerprint of everything the venv's contents depend on: when it is
# unchanged, the pip steps are skipped.
_cove_venv_fingerprint() {
    {
        printf '%s\n' "$COVE_REPO" "$COVE_PIP_VERSION"
        "$COVE_PYTHON" -c 'import sys; print(sys.version)'
        cat "$COVE_REPO/requirements-dev.txt" "$COVE_REPO/pyproject.toml"
    } | sha256sum | cut -d' ' -f1
}

# Create .venv with Debian's python and install the pinned tools and the
# project (editable, compat mode: a plain .pth path entry, no import hook).
cove_install_venv() {
    local stamp="$COVE_VENV/.cove-installed" want
    [[ -x $COVE_PYTHON ]] || cove_die "$COVE_PYTHON not found (Debian package python3)"
    if [[ -e $COVE_VENV ]] && ! grep -qx 'home = /usr/bin' "$COVE_VENV/pyvenv.cfg" 2>/dev/null; then
        cove_say "recreating .venv with $COVE_PYTHON"
        rm -rf "$COVE_VENV"
    fi
    want=$(_cove_venv_fingerprint)
    if [[ -f $stamp && $(<"$stamp") == "$want" && -x $COVE_VENV/bin/python ]]; then
        _cove_write_launchers
        return 0
    fi
    cove_say "installing Cove and its dev tools into .venv"
    rm -f "$stamp"
    [[ -x $COVE_VENV/bin/python ]] || "$COVE_PYTHON" -m venv "$COVE_VENV"
    local pip=("$COVE_VENV/bin/python" -m pip -q --disable-pip-version-check --no-input)
    export PIP_ROOT_USER_ACTION=ignore
    "${pip[@]}" install --upgrade "pip==$COVE_PIP_VERSION"
    "${pip[@]}" install -r "$COVE_REPO/requirements-dev.txt"
    (cd "$COVE_REPO" && "${pip[@]}" install -e . --config-settings editable_mode=compat)
    _cove_write_launchers
    printf '%s\n' "$want" >"$stamp"
}

# Replace pip's console scripts with launchers that skip `site` (src/cove/launcher.py).
_cove_write_launchers() {
    if [[ -f $COVE_REPO/src/cove/launcher.py ]]; then
        "$COVE_VENV/bin/python" -m cove.launcher "$COVE_VENV/bin" >/dev/null
    fi
}

# Everything both scripts need; one at a time (a second caller waits).
cove_setup() {
    mkdir -p "$COVE_REPO/.cache"
    exec {_cove_lock_fd}>"$COVE_REPO/.cache/install.lock"
    flock "$_cove_lock_fd"
    cove_install_system_packages
    cove_install_venv
    exec {_cove_lock_fd}>&-
}
