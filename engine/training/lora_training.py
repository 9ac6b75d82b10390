"""ComfyUI's LoRA training loop: teach a placed UNet's adapters to recover latents from noise.

Each step draws `batch_size` latents and their conditioning entries, noises them at a sigma drawn
uniformly over the schedule (by percent), predicts x0 through the guidance path (cfg 1, the positive
only) and moves the adapters down the loss between prediction and latent; gradients are accumulated over
`grad_accumulation_steps` steps before each optimizer step. Noise of step i is seeded with seed + 1000 i.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from engine.sampling.cfg import calc_cond_batch, prepare_conds
from engine.sampling.ksampler import prepare_noise
from engine.training.lora_adapters import LoraAdapters

OPTIMIZERS = {"AdamW": torch.optim.AdamW, "Adam": torch.optim.Adam, "SGD": torch.optim.SGD,
              "RMSprop": torch.optim.RMSprop}
LOSSES = {"MSE": nn.MSELoss, "L1": nn.L1Loss, "Huber": nn.HuberLoss, "SmoothL1": nn.SmoothL1Loss}
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


@dataclass(frozen=True)
class TrainSettings:
    batch_size: int = 1
    grad_accumulation_steps: int = 1
    steps: int = 16
    learning_rate: float = 0.0005
    optimizer: str = "AdamW"
    loss_function: str = "MSE"
    seed: int = 0
    training_dtype: torch.dtype = torch.bfloat16


def train_lora(model, adapters: LoraAdapters, latents: torch.Tensor, positive: list, settings: TrainSettings,
               progress: Callable[[int, int], None] | None = None) -> list[float]:
    """Train `adapters` in place; `model` is the sampling model whose network applies them. The loss of
    every step, in order."""
    ms = model.model_sampling
    device = getattr(model, "device", None) or latents.device
    latents = model.process_latent_in(latents.to(device, torch.float32))
    count = latents.shape[0]
    batch = min(settings.batch_size, count)
    entries = prepare_conds(model, positive, (batch, *latents.shape[1:]), device)
    optimizer = OPTIMIZERS[settings.optimizer](adapters.parameters(), lr=settings.learning_rate)
    criterion = LOSSES[settings.loss_function]()
    generator = torch.Generator().manual_seed(settings.seed)
    autocast = settings.training_dtype != torch.float32
    total = settings.steps * settings.grad_accumulation_steps
    losses = []
    for step in range(total):
        chosen = torch.randperm(count, generator=generator)[:batch].tolist()
        clean = latents[chosen]
        noise = prepare_noise(clean, settings.seed + step * 1000).to(device)
        sigmas = torch.tensor([ms.percent_to_sigma(torch.rand(1, generator=generator).item()) for _ in chosen],
                              device=device)
        noisy = ms.noise_scaling(sigmas, noise, clean)
        with torch.autocast(device.type if isinstance(device, torch.device) else str(device),
                            dtype=settings.training_dtype, enabled=autocast):
            predicted = calc_cond_batch(model, [[entries[i] for i in chosen]], noisy, sigmas,
                                        model.model_options)[0]
            loss = criterion(predicted.float(), clean)
        loss.backward()
        losses.append(loss.item())
        if progress is not None:
            progress(step + 1, total)
        if (step + 1) % settings.grad_accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
    return losses
