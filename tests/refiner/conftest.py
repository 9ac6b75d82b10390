"""The workflow runner's Loom installation over a models folder with tiny base, refiner, LoRA and ControlNet files."""

from tests.fixtures.steering_models import loom, models_dir

__all__ = ["loom", "models_dir"]
