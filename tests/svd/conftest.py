"""SVD tests: one thread (the machine is shared) and the tiny SVD checkpoint builder registered."""

import torch

import tests.fixtures.svd_checkpoint  # noqa: F401  (registers make_tiny_checkpoint("svd"))

torch.set_num_threads(1)
