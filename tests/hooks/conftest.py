"""The LoRA tests' installation (tiny SD1.5 checkpoint, CPU model manager, node context) for hook tests."""

from tests.lora.conftest import env, lora_models_dir

__all__ = ["env", "lora_models_dir"]
