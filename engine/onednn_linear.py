"""fp32 linear layers on the CPU through oneDNN's inner product instead of MKL's matrix product.

torch's F.linear on the CPU is MKL's sgemm (addmm: the bias copied into the whole output first, the product
then accumulated onto it). torch also ships oneDNN's inner product, for its compiler's CPU fusions
(`torch.ops.mkldnn._linear_pointwise`), which adds the bias as the product is written. Measured on a 2-core
AVX2 EPYC (benchmarks/onednn_linear.py): 0.68-1.05x MKL's time per SD1.5 UNet layer shape (0.82-0.90x on the
8² and 16² levels at 256²), a whole 256² CFG call 0.945-0.965x with fp32 weights and 0.97-1.00x with fp16
ones, whose heavy layers cast slice by slice and keep MKL (engine/chunked_cast.py); 512² 0.97-0.98x. The op has
no autograd formula, so a call autograd records (training) takes F.linear. Results differ from MKL's by the summation order only (1.8e-5 on a UNet output of scale 2.25);
`--no-onednn-linear` keeps F.linear everywhere, as ComfyUI computes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_enabled = True


def set_onednn_linear(enabled: bool) -> None:
    """Compute fp32 linear layers on the CPU with oneDNN (process-wide; the default) or always with F.linear."""
    global _enabled
    _enabled = enabled and torch.backends.mkldnn.is_available()


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """F.linear(x, weight, bias), by oneDNN where it applies: fp32 on the CPU, no gradient recorded."""
    if _enabled and x.dim() >= 2 and _cpu_fp32_constants(x, weight, bias):
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
    return F.linear(x, weight, bias)


def _cpu_fp32_constants(*tensors: torch.Tensor | None) -> bool:
    grad = torch.is_grad_enabled()
    return all(t is None or (t.dtype == torch.float32 and t.device.type == "cpu" and not (grad and t.requires_grad))
               for t in tensors)
