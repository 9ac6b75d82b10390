"""`--executor ray` flags, and building the Ray executor and its prompt lanes from them.

Ray itself is imported only once a user asks for it (the optional extra `[ray]`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_ray_arguments(parser: argparse.ArgumentParser, suppress_defaults: bool = False) -> None:
    """--executor, --ray-address, --ray-workers."""

    def default(value):
        return argparse.SUPPRESS if suppress_defaults else value

    group = parser.add_argument_group("scale-out")
    group.add_argument("--executor", choices=("local", "ray"), default=default("local"),
                       help="where prompts run: in this process (default), or on Ray workers (needs loom[ray])")
    group.add_argument("--ray-address", default=default(None), metavar="ADDR",
                       help="Ray cluster to join ('auto', or host:port of `ray start --head`); "
                            "default: start a Ray instance on this machine")
    group.add_argument("--ray-workers", type=int, default=default(0), metavar="N",
                       help="number of Ray workers (default: one per GPU in the cluster, or one per CPU without GPUs)")


def ray_executor_from_args(args: argparse.Namespace, base_dir: Path) -> tuple[Any, Any]:
    """(RayExecutor over freshly started workers, the worker factory for `create_app`)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise SystemExit("--executor ray needs Ray: pip install 'loom[ray]' (or: pip install ray)") from None
    from engine.scaleout.executor import RayExecutor
    from engine.scaleout.pool import start_pool
    from launch.serve import build_engine
    from web.lanes import PromptLanes

    pool = start_pool(args, base_dir, build_engine, address=args.ray_address, workers=args.ray_workers)
    return RayExecutor(pool), PromptLanes
