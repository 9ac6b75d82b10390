"""ComfyUI's `comfy.cli_args`: `args` with ComfyUI's defaults (packs read flags such as preview_method,
listen, port, disable_metadata), and the LatentPreviewMethod enum. Loom parses its own command line;
a flag Loom has no equivalent for reads as None."""

from __future__ import annotations

import enum
from typing import Any


class LatentPreviewMethod(str, enum.Enum):
    NoPreviews = "none"
    Auto = "auto"
    Latent2RGB = "latent2rgb"
    TAESD = "taesd"


class PerformanceFeature(enum.Enum):
    Fp16Accumulation = "fp16_accumulation"
    Fp8MatrixMultiplication = "fp8_matrix_mult"
    CublasOps = "cublas_ops"


class _Args:
    """A namespace of ComfyUI's flags: the defaults below, None for any other flag name."""

    def __init__(self, **defaults: Any):
        self.__dict__.update(defaults)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None


args = _Args(
    listen="127.0.0.1", port=8188, enable_cors_header=None, max_upload_size=100.0, base_directory=None,
    extra_model_paths_config=None, output_directory=None, temp_directory=None, input_directory=None,
    user_directory=None, auto_launch=False, disable_auto_launch=True, cuda_device=None, cpu=False,
    lowvram=False, normalvram=False, highvram=False, novram=False, gpu_only=False,
    preview_method=LatentPreviewMethod.Latent2RGB, preview_size=512, cache_classic=False, cache_lru=0,
    cache_none=False, disable_smart_memory=False, deterministic=False, fast=set(), dont_print_server=False,
    quick_test_for_ci=False, windows_standalone_build=False, disable_metadata=False,
    disable_all_custom_nodes=False, multi_user=False, verbose="INFO", log_stdout=False,
    front_end_version="comfyanonymous/ComfyUI@latest", front_end_root=None, force_fp32=False,
    force_fp16=False, fp16_unet=False, bf16_unet=False, fp8_e4m3fn_unet=False, fp8_e5m2_unet=False,
    fp16_vae=False, fp32_vae=False, bf16_vae=False, cpu_vae=False, fp8_e4m3fn_text_enc=False,
    fp8_e5m2_text_enc=False, fp16_text_enc=False, fp32_text_enc=False, use_split_cross_attention=False,
    use_quad_cross_attention=False, use_pytorch_cross_attention=False, use_sage_attention=False,
    use_flash_attention=False, disable_xformers=False, force_upcast_attention=False,
    dont_upcast_attention=False, reserve_vram=None, tls_keyfile=None, tls_certfile=None,
    default_hashing_function="sha256", disable_ipex_optimize=False, directml=None, oneapi_device_selector=None,
    supports_fp8_compute=False, enable_compress_response_body=False, comfy_api_base="https://api.comfy.org",
    database_url=None, whitelist_custom_nodes=[], disable_api_nodes=True,
)
