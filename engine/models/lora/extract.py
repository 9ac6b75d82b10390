"""LoRA extraction: the best rank-r approximation of a weight difference (truncated SVD), the factors
clamped at the 99th percentile of their entries as ComfyUI's LoraSave does, stored as lora_up / lora_down.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)
CLAMP_QUANTILE = 0.99


def low_rank_factors(diff: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(up, down) with up @ down ~= diff for a Linear [out, in] or Conv2d [out, in, kh, kw] difference;
    conv factors are [out, r, 1, 1] and [r, in, kh, kw]."""
    out_dim, in_dim = diff.shape[:2]
    rank = min(rank, out_dim, in_dim)
    matrix = diff.float().reshape(out_dim, -1)
    left, singular, right = torch.linalg.svd(matrix, full_matrices=False)  # same leading factors, far cheaper
    up = left[:, :rank] @ torch.diag(singular[:rank])
    down = right[:rank, :]
    limit = torch.quantile(torch.cat([up.flatten(), down.flatten()]), CLAMP_QUANTILE)
    up, down = up.clamp(-limit, limit), down.clamp(-limit, limit)
    if diff.ndim == 4:
        return up.reshape(out_dim, rank, 1, 1), down.reshape(rank, in_dim, *diff.shape[2:])
    return up, down


def lora_tensors(weights: dict[str, torch.Tensor], rank: int, prefix: str, full_diff: bool,
                 bias_diff: bool) -> dict[str, torch.Tensor]:
    """LoRA file tensors (float16) for module weights {"<module>.weight": diff, "<module>.bias": diff}:
    `<prefix><module>.lora_up/lora_down.weight`, or `.diff` for full differences and 1-D weights (with
    bias_diff), `.diff_b` for biases (with bias_diff). A difference SVD cannot factor is left out."""
    out = {}
    for key, diff in weights.items():
        if key.endswith(".weight"):
            module = prefix + key[: -len(".weight")]
            if full_diff or diff.ndim < 2:
                if full_diff or bias_diff:
                    out[f"{module}.diff"] = diff.half()
                continue
            try:
                up, down = low_rank_factors(diff, rank)
            except RuntimeError as exc:  # SVD did not converge, or too large for quantile
                log.warning("no LoRA factors for %s: %s", module, exc)
                continue
            out[f"{module}.lora_up.weight"], out[f"{module}.lora_down.weight"] = up.half(), down.half()
        elif bias_diff and key.endswith(".bias"):
            out[f"{prefix}{key[: -len('.bias')]}.diff_b"] = diff.half()
    return {k: v.detach().cpu().contiguous() for k, v in out.items()}
