#!/usr/bin/env python3
"""Generate ``src/cove/linux/syscall_table.py`` from Linux UAPI headers.

The seccomp compiler needs syscall numbers for every ABI a process on the
host can use (x86_64 with its i386 and x32 compat ABIs; aarch64 with 32-bit
ARM), and the set of names known on *any* architecture, so that a name that
exists only elsewhere is skipped while a typo is rejected. The runtime must not
need headers, so the result is committed as a plain dict literal.

Usage::

    scripts/gen_syscall_table.py [--include DIR] [--label TEXT] [-o OUTPUT]

``--include`` is an include root laid out like Debian's ``linux-libc-dev``
(``DIR/x86_64-linux-gnu/asm/unistd_64.h`` ...). Debian's package is
``Architecture: all`` since 6.x and carries the headers of every
architecture; an older, single-architecture package works too: aarch64 is
then preprocessed from ``asm-generic/unistd.h`` with ``cpp`` and the ARM table
and the foreign names are left out. The committed table was made from a newer
``linux-libc-dev`` than the host's, so that syscalls added since the host's
headers (fchmodat2, futex_wait, mseal, ...) are known::

    apt-get download linux-libc-dev/<newer suite>
    dpkg-deb -x linux-libc-dev_*.deb /tmp/headers
    scripts/gen_syscall_table.py --include /tmp/headers/usr/include \\
        --label "linux-libc-dev <version>"
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tempfile
from pathlib import Path

X32_SYSCALL_BIT = 0x40000000

# A syscall macro: __NR_read, or ARM's private __ARM_NR_cacheflush.
_DEFINE = re.compile(r"^#define\s+__(?:ARM_)?NR_([a-z_][a-z0-9_]*)\s+(.+?)\s*(?:/\*.*)?$")
# Any object-like macro, for resolving the bases the syscall macros add to.
_ANY_DEFINE = re.compile(r"^#define\s+([A-Za-z_]\w*)\s+(.+?)\s*(?:/\*.*)?$")
# Macros that look like syscalls but are counts or table bounds.
_NOT_SYSCALLS = frozenset({"syscalls", "arch_specific_syscall"})

# arch/arm64/include/uapi/asm/unistd.h before 6.11 (when arm64 switched to a
# generated unistd_64.h): the asm-generic table with these options.
_ARM64_GENERIC_WANTS = (
    "__ARCH_WANT_RENAMEAT", "__ARCH_WANT_NEW_STAT", "__ARCH_WANT_SET_GET_RLIMIT",
    "__ARCH_WANT_TIME32_SYSCALLS", "__ARCH_WANT_SYS_CLONE3", "__ARCH_WANT_MEMFD_SECRET",
)


class _Macros:
    """Object-like macros of one header set, evaluated to integers on demand."""

    def __init__(self, text: str, base: dict[str, int] | None = None) -> None:
        self.raw: dict[str, str] = {}
        for line in text.splitlines():
            m = _ANY_DEFINE.match(line.strip())
            if m:
                self.raw.setdefault(m.group(1), m.group(2))
        self.known = dict(base or {})

    def value(self, name: str, depth: int = 0) -> int:
        if name in self.known:
            return self.known[name]
        if depth > 20 or name not in self.raw:
            raise KeyError(name)
        expr = re.sub(r"\b[A-Za-z_]\w*", lambda m: str(self.value(m.group(0), depth + 1)),
                      self.raw[name])
        result = _eval_int(expr)
        self.known[name] = result
        return result


def _eval_int(expr: str) -> int:
    """Evaluate a header's integer expression: literals, + - | << and parentheses."""
    tree = ast.parse(expr.replace("UL", "").replace("U", ""), mode="eval")

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.BitOr):
                return left | right
            if isinstance(node.op, ast.LShift):
                return left << right
        raise ValueError(f"unsupported expression {expr!r}")

    return walk(tree)


def _table(text: str, base: dict[str, int] | None = None) -> dict[str, int]:
    """Every ``__NR_name`` (and ``__ARM_NR_name``) in ``text``, by number."""
    macros = _Macros(text, base)
    table: dict[str, int] = {}
    for line in text.splitlines():
        m = _DEFINE.match(line.strip())
        if not m or m.group(1) in _NOT_SYSCALLS:
            continue
        prefix = "__ARM_NR_" if line.lstrip().startswith("#define __ARM_NR_") else "__NR_"
        try:
            table[m.group(1)] = macros.value(prefix + m.group(1))
        except (KeyError, ValueError):
            continue  # e.g. aliases of macros this header does not define
    return dict(sorted(table.items(), key=lambda kv: (kv[1], kv[0])))


def _names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        m = _DEFINE.match(line.strip())
        if m and m.group(1) not in _NOT_SYSCALLS:
            names.add(m.group(1))
    return names


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _aarch64(include: Path) -> dict[str, int]:
    generated = include / "aarch64-linux-gnu/asm/unistd_64.h"
    if generated.exists():
        return _table(_read(generated))
    # Single-architecture header packages only have the asm-generic template;
    # its <asm/bitsperlong.h> must say 64 whatever the generating host is.
    with tempfile.TemporaryDirectory() as stub:
        (Path(stub) / "asm").mkdir()
        (Path(stub) / "asm/bitsperlong.h").write_text("#define __BITS_PER_LONG 64\n")
        cmd = ["cpp", "-dM", "-nostdinc", f"-I{stub}", f"-I{include}",
               *(f"-D{want}" for want in _ARM64_GENERIC_WANTS),
               str(include / "asm-generic/unistd.h")]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return _table(out)


def _arm(include: Path) -> dict[str, int] | None:
    asm = include / "arm-linux-gnueabihf/asm"
    if not (asm / "unistd-eabi.h").exists():
        return None
    # EABI: __NR_SYSCALL_BASE is 0; the private calls live at 0x0f0000 + n.
    text = _read(asm / "unistd-eabi.h") + "\n" + _read(asm / "unistd.h")
    return _table(text, {"__NR_SYSCALL_BASE": 0})


def _foreign_names(include: Path, known: set[str]) -> set[str]:
    names: set[str] = set()
    for header in sorted(include.glob("*-linux-*/asm/unistd*.h")):
        names |= _names(_read(header))
    return names - known


def _emit_dict(name: str, table: dict[str, int], comment: str) -> list[str]:
    lines = [f"# {comment}", f"{name} = {{"]
    lines += [f"    {key!r}: {value:#x}," if value >= 0x10000 else f"    {key!r}: {value},"
              for key, value in table.items()]
    lines.append("}")
    return lines


def render(include: Path, label: str) -> str:
    x86 = include / "x86_64-linux-gnu/asm"
    x86_bit = {"__X32_SYSCALL_BIT": X32_SYSCALL_BIT}
    tables: list[tuple[str, dict[str, int], str]] = [
        ("X86_64", _table(_read(x86 / "unistd_64.h")), "x86_64 (AUDIT_ARCH_X86_64)"),
        ("X86", _table(_read(x86 / "unistd_32.h")), "i386 (AUDIT_ARCH_I386)"),
        ("X32", _table(_read(x86 / "unistd_x32.h"), x86_bit),
         "x32 (AUDIT_ARCH_X86_64 with the x32 bit 0x40000000 in the number)"),
        ("AARCH64", _aarch64(include), "aarch64 (AUDIT_ARCH_AARCH64)"),
    ]
    arm = _arm(include)
    if arm is not None:
        tables.append(("ARM", arm, "32-bit ARM EABI (AUDIT_ARCH_ARM)"))
    else:
        print("warning: no ARM headers; ARM table left empty", file=sys.stderr)
        tables.append(("ARM", {}, "32-bit ARM EABI: no headers when generated"))
    known = set().union(*(t for _, t, _ in tables))
    foreign = sorted(_foreign_names(include, known))

    out = [
        f'"""Syscall numbers by ABI, generated from {label} headers.',
        "",
        "Generated by scripts/gen_syscall_table.py; do not edit. Plain literals so",
        "that importing costs only the unmarshalling of the cached bytecode.",
        '"""',
        "",
        f"HEADERS = {label!r}",
        "",
    ]
    for name, table, comment in tables:
        out += [*_emit_dict(name, table, comment), ""]
    out += ["# Names that exist only on architectures without a table above.",
            "OTHER_ARCH_NAMES = frozenset({"]
    out += [f"    {name!r}," for name in foreign]
    out += ["})", ""]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--include", type=Path, default=Path("/usr/include"))
    parser.add_argument("--label", default="the host's linux-libc-dev")
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parent.parent
                        / "src/cove/linux/syscall_table.py")
    args = parser.parse_args()
    args.output.write_text(render(args.include, args.label), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
