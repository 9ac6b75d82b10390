"""`python main.py packs check [DIR]`: for each node pack in DIR (default custom_nodes/), whether it loads,
how many nodes it registers, and every ComfyUI name its sources use that Loom lacks (a static scan, so
users know before they try a workflow). Exit code 0 when every pack loads, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TextIO


def add_packs_flags(parser: argparse.ArgumentParser) -> None:
    """The `packs` command's arguments: the action and the folder of packs."""
    parser.add_argument("action", choices=["check"], help="check: load each pack and list what Loom lacks")
    parser.add_argument("directory", nargs="?", type=Path, default=None,
                        help="a folder of packs (default: <base>/custom_nodes)")


def _failure_line(error: str) -> str:
    """The exception line and the innermost frame of a pack's traceback."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    frames = [line.strip() for line in lines if line.strip().startswith('File "')]
    last = next((line for line in reversed(lines) if not line.startswith(("ComfyUI module", " "))), lines[-1])
    return f"{last}  ({frames[-1]})" if frames else last


def report_packs(directory: Path, base_dir: Path, out: TextIO) -> int:
    """Load every pack of `directory` on a fresh registry, scan its sources, print the report."""
    import comfy_compat
    from comfy_compat.pack_scan import missing_names
    from engine.graph.context import Services
    from engine.graph.registry import build_default_registry
    from engine.paths import Folders

    folders = Folders(base_dir)
    with contextlib.redirect_stdout(sys.stderr):  # what packs print while loading is not the report
        _registry, report = build_default_registry(Services(folders=folders), [directory], pack_host=comfy_compat)
        rows = [(pack, missing_names(pack.path)) for pack in sorted(report.packs, key=lambda p: p.name.lower())]
    width = max([len(p.name) for p, _ in rows] + [4])
    out.write(f"{'pack':{width}}  loads  nodes  missing ComfyUI names\n")
    for pack, missing in rows:
        loads = "yes" if pack.ok else "NO"
        out.write(f"{pack.name:{width}}  {loads:5}  {len(pack.nodes):5}  {len(missing)}\n")
    for pack, missing in rows:
        if pack.ok and not missing and not pack.node_errors:
            continue
        out.write(f"\n{pack.name} ({pack.path}):\n")
        if not pack.ok:
            out.write(f"  fails to load: {_failure_line(pack.error)}\n")
        out.writelines(f"  node rejected: {error.strip().splitlines()[0]}\n" for error in pack.node_errors)
        out.writelines(f"  lacks {name}  (used at {where})\n" for name, where in missing.items())
    if not rows:
        out.write(f"no packs in {directory}\n")
    return 0 if all(pack.ok for pack, _ in rows) else 1


def packs_command(args: argparse.Namespace, base_dir: Path) -> int:
    """`packs check`: load every pack in the folder and report; exit status 1 when any pack failed."""
    base = (args.base_directory or base_dir).absolute()
    directory = (args.directory or base / "custom_nodes").absolute()
    return report_packs(directory, base, sys.stdout)
