"""CLIP text towers (CLIP-L, OpenCLIP ViT-H, ViT-bigG) as transformers models built from their weights.

The config is read off the tensor shapes, so a full checkpoint and a tiny test file take the same path.
`TextEncoder` runs one tower the way Stable Diffusion conditions on it: chosen hidden layer (clip
skip), optional final layer norm, textual-inversion vectors and ComfyUI's weight interpolation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from engine.models.clip_keys import (
    POSITION_IDS,
    TEXT_HF,
    KeyMapError,
    hf_text_to_open_clip,
    is_open_clip_layout,
    open_clip_text_to_hf,
)
from engine.models.prompt_weights import Chunk, empty_chunk
from engine.models.tokenizer import END_TOKEN, START_TOKEN

if TYPE_CHECKING:
    from transformers import CLIPTextConfig

HEAD_WIDTH = 64
PROJECTION = "text_projection.weight"
_LAYER_RE = re.compile(r"encoder\.layers\.(\d+)\.")


def attention_heads(width: int, head_width: int = HEAD_WIDTH) -> int:
    """Heads of a tower whose weights do not record them: every CLIP/OpenCLIP text tower uses 64-wide
    heads (CLIP-L 768/12, ViT-H 1024/16, bigG 1280/20); a width that is not a multiple gets one head."""
    return width // head_width if width % head_width == 0 else 1


def count_layers(keys) -> int:
    """Number of encoder layers named in transformers-layout keys."""
    indices = {int(m[1]) for k in keys if (m := _LAYER_RE.search(k))}
    return max(indices) + 1 if indices else 0


def infer_text_config(sd: Mapping[str, torch.Tensor], open_clip: bool) -> CLIPTextConfig:
    """CLIPTextConfig from `text_model.…` shapes. Activation: OpenCLIP towers use gelu; HF-layout files
    are OpenAI CLIP (quick_gelu) below width 1024 and converted OpenCLIP H/bigG (gelu) from 1024 up."""
    from transformers import CLIPTextConfig  # imported on first use: transformers takes seconds to import

    vocab, width = sd[TEXT_HF + "embeddings.token_embedding.weight"].shape
    layers = count_layers(sd)
    fc1 = sd.get(TEXT_HF + "encoder.layers.0.mlp.fc1.weight")
    return CLIPTextConfig(
        vocab_size=vocab,
        hidden_size=width,
        intermediate_size=fc1.shape[0] if fc1 is not None else 4 * width,
        num_hidden_layers=layers,
        num_attention_heads=attention_heads(width),
        max_position_embeddings=sd[TEXT_HF + "embeddings.position_embedding.weight"].shape[0],
        projection_dim=sd[PROJECTION].shape[0] if PROJECTION in sd else width,
        hidden_act="gelu" if open_clip or width >= 1024 else "quick_gelu",
        layer_norm_eps=1e-5,
        bos_token_id=START_TOKEN,
        eos_token_id=END_TOKEN,
        attn_implementation="sdpa",
    )


def build_text_model(
    config: CLIPTextConfig, projection: bool, device: str | torch.device = "meta"
) -> nn.Module:
    """An uninitialised transformers text model (on `device`; meta by default, filled by `load_weights`)."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    with torch.device(device):
        return CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)


def _align(sd: Mapping[str, torch.Tensor], model: nn.Module, root: str) -> dict[str, torch.Tensor]:
    """Rename checkpoint-style keys to the installed transformers' names (5.x drops `text_model.`
    from CLIPTextModel but keeps it inside the *WithProjection classes)."""
    names = set(model.state_dict())
    aligned = {}
    for key, value in sd.items():
        short = key.removeprefix(root)
        aligned[key if key in names or short not in names else short] = value
    return aligned


def _materialise_position_ids(model: nn.Module) -> None:
    for module in model.modules():
        ids = getattr(module, "position_ids", None)
        if isinstance(ids, torch.Tensor) and ids.is_meta:
            module.register_buffer("position_ids", torch.arange(ids.shape[-1]).unsqueeze(0), persistent=False)


def load_weights(model: nn.Module, sd: Mapping[str, torch.Tensor], root: str) -> nn.Module:
    """Assign checkpoint tensors to a meta-built model (no copy: mmap'd weights stay mapped)."""
    aligned = _align({k: v for k, v in sd.items() if not k.endswith(POSITION_IDS)}, model, root)
    missing, unexpected = model.load_state_dict(aligned, strict=False, assign=True)
    if missing or unexpected:
        raise KeyMapError(
            f"weights do not fit the inferred model: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    _materialise_position_ids(model)
    return model.eval().requires_grad_(False)


def to_hf_text_layout(tower: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], bool]:
    """A text tower's keys (checkpoint prefix stripped, either layout) -> (`text_model.…` keys, was OpenCLIP)."""
    if is_open_clip_layout(tower):
        return open_clip_text_to_hf(dict(tower)), True
    hf = {}
    for key, value in tower.items():
        if key.startswith(TEXT_HF) or key == PROJECTION:
            hf[key] = value
        elif key.startswith(("embeddings.", "encoder.", "final_layer_norm.")):
            hf[TEXT_HF + key] = value
        elif key != "logit_scale":
            raise KeyMapError(f"unrecognised CLIP text key {key!r}")
    return hf, False


def load_text_model(tower: Mapping[str, torch.Tensor]) -> nn.Module:
    """A ready transformers text model from one tower's tensors (prefix stripped, either layout)."""
    hf, open_clip = to_hf_text_layout(tower)
    model = build_text_model(infer_text_config(hf, open_clip), projection=PROJECTION in hf)
    return load_weights(model, hf, TEXT_HF)


def checkpoint_state_dict(model: nn.Module, open_clip: bool) -> dict[str, torch.Tensor]:
    """The model's tensors named as checkpoint files name them (inverse of `load_text_model`), e.g. for
    saving a checkpoint; prepend the family's prefix (`cond_stage_model.model.`, ...)."""
    sd = model.state_dict()
    bare = not any(k.startswith(TEXT_HF) for k in sd)
    hf = {TEXT_HF + k if bare and k != PROJECTION else k: v for k, v in sd.items()}
    return hf_text_to_open_clip(hf) if open_clip else hf


def _core(model: nn.Module) -> nn.Module:
    return getattr(model, "text_model", model)


@dataclass
class TextEncoder:
    """One text tower with its conditioning conventions.

    `default_layer` None means the last layer with the final layer norm (SD1); -2 is the penultimate
    layer (SD2, SDXL). `norm_hidden` applies the final layer norm to a chosen hidden layer (SD1/SD2
    yes, SDXL no). Pooled output always comes from the full last layer, projected when the tower has
    a projection (OpenCLIP), at the first end token.
    """

    model: nn.Module
    pad_token: int
    embedding_key: str
    default_layer: int | None = None
    norm_hidden: bool = True

    @property
    def width(self) -> int:
        return _core(self.model).embeddings.token_embedding.weight.shape[1]

    @property
    def num_layers(self) -> int:
        return len(_core(self.model).encoder.layers)

    def module_path(self, name: str) -> str:
        """Where a module named as checkpoints and kohya LoRAs name it (`text_model.encoder.layers.0.mlp.fc1`)
        lives in `model` (transformers 5.x's CLIPTextModel has no `text_model.` level, *WithProjection has)."""
        modules = dict(self.model.named_modules())
        for candidate in (name, name.removeprefix(TEXT_HF)):
            if candidate in modules:
                return candidate
        raise KeyError(f"no module {name!r} in this {type(self.model).__name__}")

    def _layer(self, layer_idx: int | None) -> tuple[int, bool]:
        """Resolve a clip-skip index to (absolute layer, apply final norm) as ComfyUI does."""
        chosen = self.default_layer if layer_idx is None else layer_idx
        if chosen is None or not -self.num_layers <= chosen < self.num_layers:
            return self.num_layers - 1, True
        return (chosen if chosen >= 0 else self.num_layers + chosen), self.norm_hidden

    def _embed(self, chunks: list[Chunk], table: nn.Embedding) -> torch.Tensor:
        ids = torch.tensor(
            [[t if isinstance(t, int) else 0 for t, _ in c] for c in chunks], device=table.weight.device
        )
        embeds = table(ids)
        for b, chunk in enumerate(chunks):
            for i, (token, _) in enumerate(chunk):
                if isinstance(token, torch.Tensor):
                    embeds[b, i] = token.to(embeds.device, embeds.dtype)
        return embeds

    @torch.no_grad()
    def forward_chunks(
        self, chunks: list[Chunk], layer_idx: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run windows of 77 tokens as a batch -> (selected hidden states [B,T,D], pooled [B,P])."""
        core = _core(self.model)
        x = core.embeddings(inputs_embeds=self._embed(chunks, core.embeddings.token_embedding))
        length = x.shape[1]
        mask = torch.full((length, length), torch.finfo(x.dtype).min, dtype=x.dtype, device=x.device).triu(1)
        target, norm = self._layer(layer_idx)
        hidden = x
        for i, layer in enumerate(core.encoder.layers):
            x = layer(x, mask[None, None])
            if i == target:
                hidden = x
        last = core.final_layer_norm(x)
        if norm:
            hidden = core.final_layer_norm(hidden)
        ends = [
            next((i for i, (t, _) in enumerate(c) if isinstance(t, int) and t == END_TOKEN), 0)
            for c in chunks
        ]
        pooled = last[torch.arange(len(chunks)), torch.tensor(ends)]
        if hasattr(self.model, "text_projection"):
            pooled = self.model.text_projection(pooled)
        return hidden, pooled

    def encode(self, chunks: list[Chunk], layer_idx: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted windows -> (cond [1, 77*k, D], pooled [1, P] of the first window), float32 on CPU.

        A token of weight w becomes z_empty + (z - z_empty) * w, z_empty being the same position of
        the empty prompt (ComfyUI's interpolation)."""
        weighted = any(w != 1.0 for c in chunks for _, w in c)
        batch = list(chunks)
        if weighted:
            batch.append(empty_chunk(self.pad_token, len(chunks[0])))
        hidden, pooled = self.forward_chunks(batch, layer_idx)
        hidden, pooled = hidden.to("cpu", torch.float32), pooled.to("cpu", torch.float32)
        if weighted:
            empty = hidden[-1]
            weights = torch.tensor([[w for _, w in c] for c in chunks], dtype=torch.float32)
            mixed = empty + (hidden[: len(chunks)] - empty) * weights[..., None]
            hidden = torch.where(weights[..., None] == 1.0, hidden[: len(chunks)], mixed)
        return hidden.reshape(1, -1, hidden.shape[-1]), pooled[:1]
