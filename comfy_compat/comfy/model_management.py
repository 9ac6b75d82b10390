"""ComfyUI's `comfy.model_management`: devices, dtypes, memory and interrupts, over Loom's model manager
(engine/memory.py, Services.models) and the running prompt's interrupt flag.

Loom's manager places weights when a node uses a model, so `load_models_gpu` has nothing to do ahead of
time; `free_memory` and `unload_all_models` ask the manager to make room or drop everything.
"""

from __future__ import annotations

import enum
import os
from typing import Any

import torch

from comfy_compat import state
from engine.graph import context

InterruptProcessingException = context.ExecutionInterrupted
OOM_EXCEPTION = torch.cuda.OutOfMemoryError
XFORMERS_IS_AVAILABLE = False
XFORMERS_ENABLED_VAE = False
ENABLE_PYTORCH_ATTENTION = True
FORCE_FP32 = False
DISABLE_SMART_MEMORY = False
current_loaded_models: list = []


class VRAMState(enum.Enum):
    DISABLED = 0
    NO_VRAM = 1
    LOW_VRAM = 2
    NORMAL_VRAM = 3
    HIGH_VRAM = 4
    SHARED = 5


class CPUState(enum.Enum):
    GPU = 0
    CPU = 1
    MPS = 2


vram_state = VRAMState.NORMAL_VRAM if torch.cuda.is_available() else VRAMState.DISABLED
set_vram_to = VRAMState.NORMAL_VRAM
cpu_state = CPUState.GPU if torch.cuda.is_available() else CPUState.CPU


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


def _manager() -> Any:
    return state.services().models


def get_torch_device() -> torch.device:
    """The compute device: the model manager's, else CUDA when available, else the CPU."""
    device = getattr(_manager(), "device", None)
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def get_torch_device_name(device: Any) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return f"{device} {torch.cuda.get_device_name(device)}"
    return str(device.type)


def intermediate_device() -> torch.device:
    """Where node outputs (images, latents between nodes) live: the CPU."""
    return torch.device("cpu")


def unet_offload_device() -> torch.device:
    """Where offloaded model weights wait: the CPU."""
    return torch.device("cpu")


text_encoder_offload_device = vae_offload_device = unet_offload_device
text_encoder_device = vae_device = unet_inital_load_device = get_torch_device


def get_autocast_device(dev: Any) -> str:
    return getattr(dev, "type", "cuda")


def is_device_type(device: Any, kind: str) -> bool:
    return getattr(device, "type", None) == kind


def is_device_cpu(device: Any) -> bool:
    return is_device_type(device, "cpu")


def is_device_mps(device: Any) -> bool:
    return is_device_type(device, "mps")


def is_device_cuda(device: Any) -> bool:
    return is_device_type(device, "cuda")


def cpu_mode() -> bool:
    return get_torch_device().type == "cpu"


def mps_mode() -> bool:
    return get_torch_device().type == "mps"


def is_nvidia() -> bool:
    return torch.cuda.is_available() and torch.version.cuda is not None


def is_amd() -> bool:
    return torch.cuda.is_available() and torch.version.hip is not None


def is_intel_xpu() -> bool:
    return False


def directml_enabled() -> bool:
    return False


is_directml_enabled = directml_enabled


def unload_model_clones(model: Any, unload_weights_only: bool = True, force_unload: bool = True) -> bool:
    """Nothing to unload: clones of a MODEL share one managed UNet in Loom."""
    return True


def xformers_enabled() -> bool:
    return XFORMERS_IS_AVAILABLE


def xformers_enabled_vae() -> bool:
    return XFORMERS_ENABLED_VAE


def pytorch_attention_enabled() -> bool:
    return ENABLE_PYTORCH_ATTENTION


def pytorch_attention_flash_attention() -> bool:
    return ENABLE_PYTORCH_ATTENTION and is_nvidia()


def sage_attention_enabled() -> bool:
    return False


def flash_attention_enabled() -> bool:
    return False


def _dtype_for(kind: str, fallback: torch.dtype) -> torch.dtype:
    manager = _manager()
    return manager.dtype_for(kind) if manager is not None and hasattr(manager, "dtype_for") else fallback


def unet_dtype(device: Any = None, model_params: int = 0, supported_dtypes: Any = None, weight_dtype: Any = None) -> torch.dtype:
    """The dtype Loom's model manager holds a UNet stored in `weight_dtype` in (its own fp16/bf16 under manual
    cast), else the dtype it runs UNets in."""
    manager = _manager()
    if weight_dtype is not None and hasattr(manager, "policy"):
        return manager.policy.storage(weight_dtype, "unet")
    return _dtype_for("unet", torch.float16 if torch.cuda.is_available() else torch.float32)


def vae_dtype(device: Any = None, allowed_dtypes: Any = None) -> torch.dtype:
    return _dtype_for("vae", torch.float32)


def text_encoder_dtype(device: Any = None) -> torch.dtype:
    return _dtype_for("clip", torch.float16 if torch.cuda.is_available() else torch.float32)


def unet_manual_cast(weight_dtype: Any, inference_device: Any, supported_dtypes: Any = None) -> torch.dtype | None:
    """The dtype a UNet held in `weight_dtype` computes in where the two differ (manual cast), else None."""
    compute = _dtype_for("unet", torch.float16 if torch.cuda.is_available() else torch.float32)
    return compute if weight_dtype is not None and weight_dtype != compute else None


def should_use_fp16(device: Any = None, model_params: int = 0, prioritize_performance: bool = True,
                    manual_cast: bool = False) -> bool:
    device = torch.device(device) if device is not None else get_torch_device()
    return device.type == "cuda"


def should_use_bf16(device: Any = None, model_params: int = 0, prioritize_performance: bool = True,
                    manual_cast: bool = False) -> bool:
    device = torch.device(device) if device is not None else get_torch_device()
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def supports_dtype(device: Any, dtype: torch.dtype) -> bool:
    return dtype == torch.float32 or torch.device(device).type != "cpu" or dtype == torch.bfloat16


def supports_cast(device: Any, dtype: torch.dtype) -> bool:
    return True


def device_supports_non_blocking(device: Any) -> bool:
    return is_device_cuda(device)


def dtype_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def cast_to(weight: torch.Tensor, dtype: Any = None, device: Any = None, non_blocking: bool = False,
            copy: bool = False, stream: Any = None) -> torch.Tensor:
    out = weight.to(device=device, dtype=dtype, non_blocking=non_blocking)
    return out.clone() if copy and out is weight else out


def cast_to_device(tensor: torch.Tensor, device: Any, dtype: Any, copy: bool = False) -> torch.Tensor:
    return cast_to(tensor, dtype, device, copy=copy)


def module_size(module: torch.nn.Module) -> int:
    """Bytes held by a module's parameters and buffers."""
    return sum(t.nelement() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def _host_pages(which: str) -> int:
    """Bytes of host RAM (total or available) from the OS page counts."""
    return os.sysconf(which) * os.sysconf("SC_PAGE_SIZE")


def get_total_memory(dev: Any = None, torch_total_too: bool = False) -> int | tuple[int, int]:
    dev = torch.device(dev) if dev is not None else get_torch_device()
    if dev.type == "cuda":
        total = torch.cuda.get_device_properties(dev).total_memory
    else:
        total = _host_pages("SC_PHYS_PAGES")
    return (total, total) if torch_total_too else total


def get_free_memory(dev: Any = None, torch_free_too: bool = False) -> int | tuple[int, int]:
    """Free bytes on a device (the host's available RAM for the CPU)."""
    dev = torch.device(dev) if dev is not None else get_torch_device()
    if dev.type == "cuda":
        free, _total = torch.cuda.mem_get_info(dev)
        cached = torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
        return (free + cached, cached) if torch_free_too else free + cached
    free = _host_pages("SC_AVPHYS_PAGES")
    return (free, free) if torch_free_too else free


def maximum_vram_for_weights(device: Any = None) -> int:
    return int(get_total_memory(device) * 0.88)


def minimum_inference_memory() -> int:
    return 1024 ** 3


def extra_reserved_memory() -> int:
    return 400 * 1024 ** 2


def load_models_gpu(models: Any, memory_required: int = 0, force_patch_weights: bool = False,
                    minimum_memory_required: Any = None, force_full_load: bool = False) -> None:
    """Nothing to do ahead of time: Loom's manager places a model's weights when a node uses it."""


def load_model_gpu(model: Any) -> None:
    load_models_gpu([model])


def loaded_models(only_currently_used: bool = False) -> list:
    return []


def free_memory(memory_required: int, device: Any, keep_loaded: Any = ()) -> list:
    """Make room on `device`: Loom's manager offloads every model it is not told to keep."""
    manager = _manager()
    if manager is not None and hasattr(manager, "free_device_memory"):
        manager.free_device_memory(keep=[getattr(m, "handle", m) for m in keep_loaded])
    return []


def soft_empty_cache(force: bool = False) -> None:
    """Return cached, unused accelerator memory to the driver."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def cleanup_models(keep_clone_weights_loaded: bool = False) -> None:
    """Nothing to clean: Loom's manager forgets models nobody holds."""


def cleanup_models_gc() -> None:
    """Nothing to collect: Loom's manager forgets models nobody holds."""


def unload_all_models() -> None:
    """Drop every model the model manager holds."""
    manager = _manager()
    if manager is not None and hasattr(manager, "unload_all"):
        manager.unload_all()


def archive_model_dtypes(model: Any) -> None:
    """Nothing to archive: Loom keeps dtypes with its managed modules."""


def pin_memory(tensor: torch.Tensor) -> bool:
    return False


def unpin_memory(tensor: torch.Tensor) -> bool:
    return False
