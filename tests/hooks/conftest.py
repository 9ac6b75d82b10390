"""The LoRA tests' installation (tiny SD1.5 checkpoint, CPU model manager, node context) for hook tests, and
the workflow runner's (executor over tiny files under real names) for hook workflows."""

from tests.fixtures.steering_models import loom, models_dir
from tests.lora.conftest import env, lora_models_dir

__all__ = ["env", "loom", "lora_models_dir", "models_dir"]
