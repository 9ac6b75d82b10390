"""ComfyUI 0.3.64's launch flags that Loom has no flag of the same name for, accepted so that a user's habit
(or a launcher script) does not end in "unrecognized arguments".

Each is mapped onto Loom's own flags where one does the same job (--use-split-cross-attention is
--attention sliced, --enable-cors-header is --allow-origin, --verbose sets the log level), or answered
with one line saying what Loom does instead. A flag Loom defines itself is never shadowed: when one of
these names becomes a real Loom flag, the table entry is skipped.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PREFIX = "comfyui_flag_"
MEMORY = ("Loom keeps model weights on the GPU within --vram-budget (default: free memory less a reserve) and "
          "moves the least recently used to RAM (--ram-budget), past which they are dropped and reread when needed; set --vram-budget, e.g. 4GB, instead")
PRECISION = ("Loom picks each model's dtype (fp16 on a GPU, the VAE in bf16 where supported, else fp32; on the "
             "CPU half-precision weights stay half and compute in fp32); --force-fp32 / --force-fp16 / "
             "--force-bf16 set it for every model")
NOT_NEEDED = "not needed in Loom"


@dataclass(frozen=True)
class ComfyFlag:
    """One ComfyUI flag: its argparse shape and what Loom makes of it (`apply` may change `args`; it
    returns the line to print)."""

    name: str
    apply: Callable[[argparse.Namespace, Any], str]
    options: dict = field(default_factory=dict)  # nargs / type / choices, as ComfyUI declares the flag


def answer(text: str) -> Callable[[argparse.Namespace, Any], str]:
    return lambda args, value: text


def _attention(backend: str, text: str) -> Callable[[argparse.Namespace, Any], str]:
    def apply(args: argparse.Namespace, value: Any) -> str:
        args.attention = backend
        return f"{text}: --attention {backend}"

    return apply


def _cors(args: argparse.Namespace, value: Any) -> str:
    args.allow_origin = [*getattr(args, "allow_origin", []), value]
    return f"requests from {value} are accepted: --allow-origin {value}"


def _verbose(args: argparse.Namespace, value: Any) -> str:
    logging.getLogger().setLevel(value)
    args.log_level = value
    return f"log level {value}"


def _cuda_device(args: argparse.Namespace, value: Any) -> str:
    os.environ["CUDA_VISIBLE_DEVICES"] = str(value)  # read by torch when it first initialises CUDA
    return f"only GPU {value} is visible (CUDA_VISIBLE_DEVICES={value})"


def _upcast(args: argparse.Namespace, value: Any) -> str:
    args.manual_cast = False
    return ("half-precision checkpoints are upcast to fp32 at load, for every model (Loom has no per-model "
            "precision; on a GPU use --force-fp32): --no-manual-cast")


def _cache_classic(args: argparse.Namespace, value: Any) -> str:
    args.cache_lru, args.cache_none = 0, False
    return "Loom's default cache (the last prompt's outputs)"


FLAGS: tuple[ComfyFlag, ...] = (
    ComfyFlag("--lowvram", answer(MEMORY)),
    ComfyFlag("--novram", answer(MEMORY)),
    ComfyFlag("--normalvram", answer(MEMORY)),
    ComfyFlag("--highvram", answer(MEMORY)),
    ComfyFlag("--gpu-only", answer(MEMORY)),
    ComfyFlag("--reserve-vram", answer(MEMORY), {"type": float}),
    ComfyFlag("--disable-smart-memory", answer(MEMORY)),
    ComfyFlag("--async-offload", answer(NOT_NEEDED + ": Loom moves weights between devices itself")),
    ComfyFlag("--force-non-blocking", answer(NOT_NEEDED + ": Loom moves weights between devices itself")),
    ComfyFlag("--fp32-unet", _upcast),
    ComfyFlag("--fp64-unet", answer(PRECISION)),
    ComfyFlag("--bf16-unet", answer(PRECISION)),
    ComfyFlag("--fp16-unet", answer(PRECISION)),
    ComfyFlag("--fp16-vae", answer(PRECISION)),
    ComfyFlag("--fp32-vae", _upcast),
    ComfyFlag("--bf16-vae", answer(PRECISION)),
    ComfyFlag("--cpu-vae", answer("the VAE runs where the other models run; --cpu runs everything on the CPU")),
    ComfyFlag("--fp16-text-enc", answer(PRECISION)),
    ComfyFlag("--fp32-text-enc", _upcast),
    ComfyFlag("--bf16-text-enc", answer(PRECISION)),
    ComfyFlag("--supports-fp8-compute", answer("Loom does not compute in fp8")),
    ComfyFlag("--fast", answer("Loom has no experimental speed switches"), {"nargs": "*"}),
    ComfyFlag("--force-channels-last", answer("Loom keeps torch's default memory format")),
    ComfyFlag("--use-split-cross-attention", _attention("sliced", "sliced attention")),
    ComfyFlag("--use-quad-cross-attention", _attention("sliced", "Loom's low-memory attention is sliced")),
    ComfyFlag("--use-pytorch-cross-attention", _attention("sdpa", "torch's scaled dot product attention")),
    ComfyFlag("--disable-xformers", _attention("sdpa", "xformers off")),
    ComfyFlag("--use-sage-attention", _attention("sdpa", "Loom has no sage attention; torch SDPA instead")),
    ComfyFlag("--use-flash-attention", _attention("sdpa", "torch SDPA uses flash kernels where torch has them")),
    ComfyFlag("--force-upcast-attention", answer("Loom computes attention softmax in fp32 where it matters")),
    ComfyFlag("--dont-upcast-attention", answer("Loom computes attention softmax in fp32 where it matters")),
    ComfyFlag("--cuda-device", _cuda_device, {"type": int}),
    ComfyFlag("--default-device", answer("Loom uses the first visible GPU; pick it with --cuda-device N"),
              {"type": int}),
    ComfyFlag("--cuda-malloc", answer(NOT_NEEDED + ": Loom uses torch's default CUDA allocator")),
    ComfyFlag("--disable-cuda-malloc", answer(NOT_NEEDED + ": Loom uses torch's default CUDA allocator")),
    ComfyFlag("--directml", answer("Loom runs on CUDA or the CPU; DirectML is not supported"), {"nargs": "?"}),
    ComfyFlag("--oneapi-device-selector", answer("Loom runs on CUDA or the CPU; oneAPI is not supported")),
    ComfyFlag("--disable-ipex-optimize", answer("Loom runs on CUDA or the CPU; IPEX is not used")),
    ComfyFlag("--deterministic", answer("Loom's samplers are seeded; torch's deterministic mode is not switched on")),
    ComfyFlag("--preview-method", answer("Loom sends a latent preview of every step to the canvas by itself"),
              {"choices": ("none", "auto", "latent2rgb", "taesd")}),
    ComfyFlag("--preview-size", answer("Loom sends a latent preview of every step to the canvas by itself"),
              {"type": int}),
    ComfyFlag("--cache-classic", _cache_classic),
    ComfyFlag("--mmap-torch-files", answer("Loom reads .safetensors memory-mapped and .ckpt files safely")),
    ComfyFlag("--disable-mmap", answer("Loom reads .safetensors memory-mapped and .ckpt files safely")),
    ComfyFlag("--default-hashing-function", answer(NOT_NEEDED + ": Loom hashes nothing for uploads"),
              {"choices": ("md5", "sha1", "sha256", "sha512")}),
    ComfyFlag("--verbose", _verbose, {"nargs": "?", "const": "DEBUG",
                                      "choices": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")}),
    ComfyFlag("--log-stdout", answer("Loom logs to stderr; redirect it with 2>&1")),
    ComfyFlag("--dont-print-server", answer("Loom prints only its address and one line per prompt")),
    ComfyFlag("--auto-launch", answer("Loom does not open a browser: open the address it prints")),
    ComfyFlag("--disable-auto-launch", answer("Loom never opens a browser")),
    ComfyFlag("--tls-keyfile", answer("Loom serves plain HTTP: put a TLS proxy (e.g. Caddy, nginx) in front")),
    ComfyFlag("--tls-certfile", answer("Loom serves plain HTTP: put a TLS proxy (e.g. Caddy, nginx) in front")),
    ComfyFlag("--enable-cors-header", _cors, {"nargs": "?", "const": "*"}),
    ComfyFlag("--enable-compress-response-body", answer(NOT_NEEDED + ": put a compressing proxy in front")),
    ComfyFlag("--whitelist-custom-nodes", answer("with --disable-all-custom-nodes, load a pack with "
                                                 "--custom-nodes-dir DIR instead"), {"nargs": "+"}),
    ComfyFlag("--disable-api-nodes", answer("Loom has no API (paid service) nodes")),
    ComfyFlag("--multi-user", answer("Loom keeps one user folder (--user-directory)")),
    ComfyFlag("--database-url", answer("Loom keeps its queue and history in <user>/queue.sqlite3")),
    ComfyFlag("--quick-test-for-ci", answer("use `python main.py run WORKFLOW` for a run that exits")),
    ComfyFlag("--windows-standalone-build", answer(NOT_NEEDED)),
    ComfyFlag("--front-end-version", answer("Loom serves its canvas, or ComfyUI's with --front-end comfyui")),
    ComfyFlag("--front-end-root", answer("Loom serves its canvas, or ComfyUI's with --front-end comfyui")),
    ComfyFlag("--comfy-api-base", answer("Loom has no API (paid service) nodes")),
)


def add_comfyui_flags(parser: argparse.ArgumentParser) -> None:
    """Add every ComfyUI flag `parser` does not define itself (hidden from --help: Loom's own flags are
    the documented ones). A flag that is not given leaves no attribute behind."""
    for flag in FLAGS:
        if flag.name in parser._option_string_actions:
            continue
        options = flag.options or {"action": "store_true"}
        parser.add_argument(flag.name, dest=PREFIX + flag.name[2:].replace("-", "_"), default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS, **options)


def apply_comfyui_flags(args: argparse.Namespace) -> list[str]:
    """Map the ComfyUI flags given onto Loom's own settings; one line per flag saying what Loom does."""
    lines = []
    for flag in FLAGS:
        dest = PREFIX + flag.name[2:].replace("-", "_")
        if hasattr(args, dest):
            lines.append(f"{flag.name} (a ComfyUI flag): {flag.apply(args, getattr(args, dest))}")
            delattr(args, dest)
    return lines
