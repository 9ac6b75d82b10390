"""The flags that choose where and how models run (device, memory budgets, precision, attention), shared by
`python main.py` (serve) and `python main.py run`, and the model manager they describe."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from launch.cli import flag_default

if TYPE_CHECKING:
    from engine.memory import ModelManager


def parse_size(text: str) -> int:
    """'6GB', '512MiB', '1.5g' or a plain number of GiB -> bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([kmgt]?)(i?b)?\s*", text.lower())
    if not match:
        raise ValueError(f"not a memory size: {text!r} (expected e.g. 6GB, 512MB, or a number of GiB)")
    number, unit = float(match.group(1)), match.group(2) or ("b" if match.group(3) else "g")
    return int(number * 1024 ** "bkmgt".index(unit))


def add_compute_arguments(parser: argparse.ArgumentParser, suppress_defaults: bool = False) -> None:
    """Add the flags (suppress_defaults for subcommand parsers, so a flag given before the subcommand is
    not reset by it)."""

    def default(value):
        return flag_default(value, suppress_defaults)

    group = parser.add_argument_group("compute")
    group.add_argument("--vram-budget", type=parse_size, default=default(None),
                       help="bytes of model weights kept on the GPU, e.g. 6GB (default: free memory - reserve)")
    group.add_argument("--ram-budget", type=parse_size, default=default(None),
                       help="bytes of model weights kept in RAM, e.g. 16GB (default: 80%% of available RAM)")
    group.add_argument("--cpu", action="store_true", default=default(False),
                       help="run models on the CPU even when a GPU is present")
    group.add_argument("--attention", default=default("auto"), choices=("auto", "sdpa", "xformers", "sliced"),
                       help="attention backend: torch SDPA, xformers (CUDA), or sliced for low memory "
                            "(default: auto = xformers when usable, else SDPA)")
    group.add_argument("--manual-cast", action=argparse.BooleanOptionalAction, default=default(None),
                       help="keep fp16/bf16 checkpoints in their own dtype and compute each layer in fp32 (half "
                            "the weight memory); --no-manual-cast upcasts them to fp32 at load (default: on "
                            "where the device lacks fast half precision, i.e. the CPU, unless --force-* is given)")
    group.add_argument("--torch-compile", action="store_true", default=default(False),
                       help="torch.compile the UNet forward (a Loom flag; on a 2-core CPU it costs 40-100 s "
                            "of compiling and measured from 1.4x slower to 0.8x per step: for experiments)")
    group.add_argument("--winograd", action=argparse.BooleanOptionalAction, default=default(True),
                       help="compute 3x3 convolutions on the CPU by Winograd transforms (NNPACK's F(6x6, 3x3), "
                            "Loom's F(2x2, 3x3)) or an unfolded product where timed faster here: each shape up to "
                            "64x64 times its candidates on its first call and keeps the fastest (in the user "
                            "folder's kernel_choices.json), larger ones take NNPACK (within ~1e-4 of the direct "
                            "convolution); --no-winograd computes them directly, as ComfyUI does (default: on)")
    group.add_argument("--onednn-linear", action=argparse.BooleanOptionalAction, default=default(True),
                       help="compute fp32 linear layers on the CPU with oneDNN's inner product (0.68-1.05x the time "
                            "of torch's MKL product on SD1.5's layers; results differ in the last bits); "
                            "--no-onednn-linear uses F.linear, as ComfyUI does (default: on)")
    precision = group.add_mutually_exclusive_group()
    for name in ("fp32", "fp16", "bf16"):
        precision.add_argument(f"--force-{name}", dest="precision", action="store_const", const=name,
                               default=default("auto"), help=f"hold every model in {name} (converted at load)")


def manager_from_args(args: argparse.Namespace, kernel_choices: Path | None = None) -> ModelManager:
    """Apply the attention choice and build the manager a host puts in Services.models (torch is imported
    here, not at module level, so `--help` stays instant). `kernel_choices`: the file that keeps the kernels
    timed fastest here across processes (engine/kernel_timing.py)."""
    from engine import kernel_timing
    from engine.memory import ModelManager
    from engine.models.attention import set_attention_backend
    from engine.models.compile import set_torch_compile
    from engine.onednn_linear import set_onednn_linear
    from engine.winograd import set_winograd

    set_attention_backend(getattr(args, "attention", "auto"))
    set_torch_compile(getattr(args, "torch_compile", False))
    set_winograd(getattr(args, "winograd", True))
    set_onednn_linear(getattr(args, "onednn_linear", True))
    kernel_timing.remember_in(kernel_choices)
    return ModelManager(device="cpu" if getattr(args, "cpu", False) else None,
                        vram_budget=getattr(args, "vram_budget", None), ram_budget=getattr(args, "ram_budget", None),
                        precision=getattr(args, "precision", "auto"), manual_cast=getattr(args, "manual_cast", None))
