"""GLIGEN on the sampler side, as ComfyUI does it: a conditioning entry's ("position", GLIGEN, boxes)
becomes a "middle_patch" for the network calls of that entry alone, rebuilt for the size of the latent
being denoised; and negatives without boxes borrow the positives' GLIGEN so both halves of CFG see the
same fusers."""

from __future__ import annotations

import torch


def share_gligen_with_negative(conds: dict[str, list]) -> dict[str, list]:
    """Give the whole-latent entries of every other side the GLIGEN of the positive's whole-latent entries
    (the k-th positive GLIGEN to the k-th plain entry, cycling), unless a side already has its own."""
    positive = conds.get("positive") or []
    sources = [options["gligen"] for _, options in positive
               if "area" not in options and options.get("gligen") is not None]
    if not sources:
        return conds
    out = dict(conds)
    for name, entries in conds.items():
        if name == "positive":
            continue
        whole = [(i, e) for i, e in enumerate(entries) if "area" not in e[1]]
        if any(e[1].get("gligen") is not None for _, e in whole) or not whole:
            continue
        entries = list(entries)
        for k, source in enumerate(sources):
            index, (cond, options) = whole[k % len(whole)]
            entries[index] = [cond, {**options, "gligen": source}]
        out[name] = entries
    return out


def with_gligen_patch(model_options: dict, gligen, shape: torch.Size, device) -> dict:
    """model_options whose transformer_options carry the entry's GLIGEN middle patch after any others."""
    if gligen is None:
        return model_options
    kind, model = gligen[0], gligen[1]
    patch = model.set_position(shape, gligen[2], device) if kind == "position" else model.set_empty(shape, device)
    transformer_options = dict(model_options.get("transformer_options", {}))
    patches = dict(transformer_options.get("patches", {}))
    patches["middle_patch"] = [*patches.get("middle_patch", ()), patch]
    transformer_options["patches"] = patches
    return {**model_options, "transformer_options": transformer_options}
