"""Command-line parsing for `python main.py [run WORKFLOW | ...]`, and the folders and node
registry the shared flags describe.

Flags shared by every subcommand (folders, model paths, node packs) are declared once in
`add_shared_flags`; each subcommand adds its own. The server plugs in as another subcommand
(and as the default when none is given).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.paths import Folders, ModelPathsConfigError
from launch.allocator import use_one_arena
from launch.comfy_flags import add_comfyui_flags, apply_comfyui_flags

KERNEL_CHOICES = "kernel_choices.json"  # in the user folder: the kernels timed fastest here (engine/kernel_timing.py)


@dataclass(frozen=True)
class Command:
    """A subcommand: its one-line help, how it adds its own flags, how it runs (parsed args, base
    dir -> exit code), and the examples shown under its --help."""

    help: str
    add_flags: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Path], int]
    examples: str = ""


def flag_default(value: Any, suppress: bool) -> Any:
    """`value`, or argparse.SUPPRESS for a flag repeated on a subcommand, so that parsing the
    subcommand does not reset what the same flag set before the subcommand's name."""
    return argparse.SUPPRESS if suppress else value


def add_shared_flags(parser: argparse.ArgumentParser, suppress_defaults: bool = False) -> None:
    """Folder and pack flags, with the same names as ComfyUI's where one exists."""

    def default(value):
        return flag_default(value, suppress_defaults)

    group = parser.add_argument_group("folders")
    group.add_argument("--base-directory", type=Path, default=default(None), metavar="DIR",
                       help="root for input/, output/, temp/, user/, models/, custom_nodes/ (default: Loom's folder)")
    group.add_argument("--input-directory", type=Path, default=default(None), metavar="DIR",
                       help="where LoadImage reads (default: <base>/input)")
    group.add_argument("--output-directory", type=Path, default=default(None), metavar="DIR",
                       help="where SaveImage writes (default: <base>/output)")
    group.add_argument("--temp-directory", type=Path, default=default(None), metavar="DIR",
                       help="where previews go (default: <base>/temp)")
    group.add_argument("--user-directory", type=Path, default=default(None), metavar="DIR",
                       help="settings, saved workflows and the queue database (default: <base>/user)")
    group.add_argument("--models-dir", type=Path, default=default(None), metavar="DIR",
                       help="models root (checkpoints/, vae/, loras/, ...) (default: <base>/models)")
    group.add_argument("--extra-model-paths-config", type=Path, action="append", default=default([]),
                       metavar="YAML", help="extra model folders, ComfyUI's extra_model_paths.yaml format (repeatable)")
    nodes = parser.add_argument_group("nodes")
    nodes.add_argument("--custom-nodes-dir", type=_existing_folder, action="append", default=default([]), metavar="DIR",
                       help="also load node packs from DIR (repeatable)")
    nodes.add_argument("--disable-all-custom-nodes", action="store_true", default=default(False),
                       help="load no node packs from custom_nodes/ (--custom-nodes-dir still loads)")
    nodes.add_argument("--disable-metadata", action="store_true", default=default(False),
                       help="do not embed the workflow in saved images")


class StartupError(Exception):
    """What the command line asks for cannot be set up (a folder that cannot be created, a port in use)."""


def _existing_folder(value: str) -> Path:
    """argparse type for folders that must already exist (a typo would otherwise load nothing, silently)."""
    if not Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {value}")
    return Path(value)


def folders_from_args(args: argparse.Namespace, base_dir: Path) -> Folders:
    """The Folders object the shared flags describe."""
    base = args.base_directory or base_dir
    return Folders(
        base,
        input_dir=args.input_directory,
        output_dir=args.output_directory,
        temp_dir=args.temp_directory,
        user_dir=args.user_directory,
        models_dir=args.models_dir,
        extra_model_paths=args.extra_model_paths_config or None,
    )


def _pack_dirs(args: argparse.Namespace, folders: Folders) -> list[Path]:
    """Pack folders to load: <base>/custom_nodes plus those named in extra-model-paths configs."""
    if args.disable_all_custom_nodes:
        return []
    return [folders.base_dir / "custom_nodes", *folders.custom_node_dirs]


def created_folders(args: argparse.Namespace, base_dir: Path) -> Folders:
    """The Folders the shared flags describe, created on disk (StartupError when one cannot be)."""
    folders = folders_from_args(args, base_dir)
    try:
        folders.ensure()
        folders.ensure_model_folders()
    except OSError as exc:
        raise StartupError(f"cannot create the folder {exc.filename}: {exc.strerror or exc}") from exc
    return folders


def registry_from_args(args: argparse.Namespace, base_dir: Path, on_demand: bool = False) -> tuple[Folders, Any, Any]:
    """The folders (created), and the node registry over them -> (folders, registry, PackReport)."""
    folders = created_folders(args, base_dir)
    return (folders, *registry_for_folders(args, folders, on_demand))


def registry_for_folders(args: argparse.Namespace, folders: Folders, on_demand: bool = False) -> tuple[Any, Any]:
    """The model manager and the node registry (core nodes, then packs) the memory and pack flags
    describe over `folders` -> (registry, PackReport); packs import ComfyUI's modules from comfy_compat
    and may add model folders to `folders`. `on_demand`: node modules, packs and the model manager
    (torch) load when first needed (engine/graph/on_demand_registry.py); the PackReport fills as they do."""
    import comfy_compat
    from engine.graph.context import Services
    from launch.compute_flags import manager_from_args

    pack_dirs = [*_pack_dirs(args, folders), *args.custom_nodes_dir]
    settings = {"disable_metadata": args.disable_metadata}
    choices = folders.user_dir / KERNEL_CHOICES
    if on_demand:
        from engine.graph.on_demand_registry import OnDemandRegistry
        from engine.graph.packs import PackReport
        from launch.models_on_first_use import ModelsOnFirstUse
        from launch.node_index import read_index

        services = Services(folders=folders, models=ModelsOnFirstUse(lambda: manager_from_args(args, choices)),
                            settings=settings)
        registry = OnDemandRegistry(services, read_index(), PackReport(), pack_dirs, comfy_compat)
        return registry, registry.report
    from engine.graph.registry import build_default_registry

    services = Services(folders=folders, models=manager_from_args(args, choices), settings=settings)
    return build_default_registry(services, custom_node_dirs=pack_dirs, pack_host=comfy_compat)


def pack_problems(report: Any) -> list[str]:
    """Per pack that failed to import, its full traceback (file and line of the cause); one line per
    rejected pack node, name clash and broken core module (startup goes on)."""
    lines = [f"node pack {p.name} failed to import ({p.path}):\n{p.error.rstrip()}" for p in report.failed]
    lines += [f"node pack {p.name}: node rejected: {e.strip().splitlines()[0]}"
              for p in report.packs if p.ok for e in getattr(p, "node_errors", [])]
    lines += [f"node pack {p.name} prestartup script failed ({p.path}): {p.error.strip().splitlines()[-1]}"
              for p in getattr(report, "prestartup_failed", [])]
    lines += [f"node name clash: {c}" for c in report.clashes]
    lines += [f"core node module error: {e.strip().splitlines()[-1]}" for e in report.core_errors]
    return lines


def _add_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workflow", type=Path,
                        help="API or canvas JSON, or a PNG/WebP/MP4 with an embedded workflow ('-' reads stdin)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.INPUT=VALUE",
                        help="override an input; NODE is a node id, class_type or title; VALUE is JSON "
                             "when it parses, else a string (repeatable)")
    parser.add_argument("--target", dest="targets", action="append", default=None, metavar="NODE",
                        help="run only this output node and what it needs (id, class_type or title; repeatable)")
    parser.add_argument("--json", dest="as_json", action="store_true",
                        help="print a machine-readable result (outputs, files, timings, cache hits) on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress display on stderr (errors still show)")
    from launch.compute_flags import add_compute_arguments  # --cpu, budgets, precision, attention

    add_compute_arguments(parser, suppress_defaults=True)


def _run(args: argparse.Namespace, base_dir: Path) -> int:
    from launch.run import run_command

    return run_command(args, base_dir)


def _add_serve(parser: argparse.ArgumentParser) -> None:
    from launch.serve_flags import add_serve_flags

    add_serve_flags(parser, suppress_defaults=True)


def _serve(args: argparse.Namespace, base_dir: Path) -> int:
    from launch.serve import serve

    return serve(args, base_dir)


def _add_packs(parser: argparse.ArgumentParser) -> None:
    from launch.packs_check import add_packs_flags

    add_packs_flags(parser)


def _packs(args: argparse.Namespace, base_dir: Path) -> int:
    from launch.packs_check import packs_command

    return packs_command(args, base_dir)


COMMANDS: dict[str, Command] = {
    "run": Command("run a workflow headless and exit", _add_run, _run, examples="""\
examples:
  python main.py run workflows/image_invert_and_scale.json --output-directory out
  python main.py run workflows/sd15_txt2img.json --set KSampler.seed=7 --set 6.text="a red fox"
  python main.py run out/examples/invert_and_scale_00001_.png --json   (a saved image runs its workflow)

Progress goes to stderr; the files written are listed on stdout.
exit codes: 0 done, 2 unreadable or invalid workflow, 3 a node failed, 130 interrupted (Ctrl-C)"""),
    "serve": Command("serve the canvas and the HTTP API (the default)", _add_serve, _serve, examples="""\
examples:
  python main.py                       serve on http://127.0.0.1:8188
  python main.py --listen --port 8000  serve on every address (a token is printed and required)"""),
    "packs": Command("check node packs: does each load, its node count, the ComfyUI names Loom lacks",
                     _add_packs, _packs, examples="""\
examples:
  python main.py packs check                   the packs in custom_nodes/
  python main.py packs check ~/ComfyUI/custom_nodes

exit codes: 0 every pack loads, 1 some pack fails to load"""),
}
DEFAULT_COMMAND = "serve"


def build_parser() -> argparse.ArgumentParser:
    """`main.py`'s parser: shared and server flags at the top (serving is the default), one subparser
    per command."""
    epilog = COMMANDS[DEFAULT_COMMAND].examples + "\n  python main.py run WORKFLOW          run a workflow " \
        "headless (see `main.py run --help`)"
    parser = argparse.ArgumentParser(prog="main.py", description="Loom: node-graph workflows for diffusion models",
                                     epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_flags(parser)
    from launch.serve_flags import add_serve_flags

    add_serve_flags(parser)  # `python main.py --port N` serves without naming the subcommand
    add_comfyui_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        subparser = sub.add_parser(name, help=command.help, description=command.help, epilog=command.examples,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
        add_shared_flags(subparser, suppress_defaults=True)
        command.add_flags(subparser)
        add_comfyui_flags(subparser)
    return parser


def main(argv: list[str] | None = None, base_dir: Path | None = None) -> int:
    """Parse `argv` and run the chosen subcommand; returns the process exit code."""
    use_one_arena()  # before the server or the runner starts a thread
    args = build_parser().parse_args(argv)
    for line in apply_comfyui_flags(args):
        print(line, file=sys.stderr)
    base = (base_dir or Path.cwd()).absolute()
    try:
        return COMMANDS[args.command or DEFAULT_COMMAND].run(args, base)
    except ModelPathsConfigError as exc:
        print(f"error: --extra-model-paths-config {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
