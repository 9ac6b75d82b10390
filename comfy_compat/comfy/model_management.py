"""ComfyUI's `comfy.model_management`, reduced to interrupts and devices.

Interrupts map to the running prompt's engine.graph.context.Interrupt (or, outside a node, the server's
worker); devices come from Loom's model manager (Services.models) when there is one. Torch is imported lazily.
"""

from __future__ import annotations

from typing import Any

from comfy_compat import state
from engine.graph import context

InterruptProcessingException = context.ExecutionInterrupted


def _interrupt_flag() -> context.Interrupt | None:
    ctx = context.current()
    if ctx is not None and ctx.interrupt is not None:
        return ctx.interrupt
    worker = state.server_worker()
    return getattr(worker, "interrupt_flag", None)


def interrupt_current_processing(value: bool = True) -> None:
    """Ask the running prompt to stop (value=False withdraws the request)."""
    flag = _interrupt_flag()
    if flag is not None:
        flag.set() if value else flag.clear()


def processing_interrupted() -> bool:
    flag = _interrupt_flag()
    return flag is not None and flag.is_set()


def throw_exception_if_processing_interrupted() -> None:
    """Raise InterruptProcessingException (Loom's ExecutionInterrupted) when a stop was requested."""
    if processing_interrupted():
        raise InterruptProcessingException()


def get_torch_device() -> Any:
    """The compute device: the model manager's, else CUDA when available, else the CPU."""
    import torch

    device = getattr(state.services().models, "device", None)
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def intermediate_device() -> Any:
    """Where node outputs (images, latents between nodes) live: the CPU."""
    import torch

    return torch.device("cpu")


def unet_offload_device() -> Any:
    """Where offloaded model weights wait: the CPU."""
    import torch

    return torch.device("cpu")


def soft_empty_cache(force: bool = False) -> None:
    """Return cached, unused accelerator memory to the driver."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def unload_all_models() -> None:
    """Drop every model the model manager holds."""
    models = state.services().models
    if models is not None and hasattr(models, "unload_all"):
        models.unload_all()
