"""The object a CLIP socket carries: the tokenizer, a family's text towers, clip skip, embeddings.

Family conventions (following ComfyUI, which follows the original SD/SGM code):
SD1 CLIP-L, last layer + final norm, pad with the end token; SD2 OpenCLIP-H, penultimate layer +
final norm, pad 0; SDXL CLIP-L and bigG, penultimate layers without final norm, concatenated
(768 + 1280 = 2048), pooled from bigG's projection; the refiner has bigG alone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from engine.models.embeddings import EmbeddingLibrary
from engine.models.prompt_weights import Chunk, empty_chunk, tokenize_prompt
from engine.models.text_encoders import TextEncoder, load_text_model
from engine.models.tokenizer import END_TOKEN, CLIPTokenizer, shared_tokenizer

Tokens = dict[str, list[Chunk]]
_HF_MARK = "text_model.embeddings.token_embedding.weight"
_OPEN_CLIP_MARK = "transformer.resblocks.0.attn.in_proj_weight"
# family -> towers as (name, layout, embedding key, pad token, default layer, norm on hidden layer)
FAMILIES: dict[str, tuple[tuple[str, str, str, int, int | None, bool], ...]] = {
    "sd1": (("l", "hf", "clip_l", END_TOKEN, None, True),),
    "sd2": (("h", "open_clip", "clip_h", 0, -2, True),),
    "sdxl": (("l", "hf", "clip_l", END_TOKEN, -2, False), ("g", "open_clip", "clip_g", 0, -2, False)),
    "sdxl_refiner": (("g", "open_clip", "clip_g", 0, -2, False),),
}
POOLED_FROM = {"sd1": "l", "sd2": "h", "sdxl": "g", "sdxl_refiner": "g"}


class UnsupportedTextEncoder(ValueError):
    """The checkpoint's text encoders do not match what the family needs."""


def find_text_towers(keys: Sequence[str]) -> dict[str, str]:
    """Prefix -> layout ("hf" or "open_clip") of every text tower in a state dict's keys."""
    keyset = set(keys)
    towers = {}
    for key in keyset:
        if key.endswith(_HF_MARK):
            towers[key[: -len(_HF_MARK)]] = "hf"
        elif key.endswith(_OPEN_CLIP_MARK):
            prefix = key[: -len(_OPEN_CLIP_MARK)]
            if prefix + "token_embedding.weight" in keyset:
                towers[prefix] = "open_clip"
    return dict(sorted(towers.items()))


def normalize_family(name: str) -> str:
    """Map detector names ("sd15", "sd21v", "sdxl_base", "sdxl_refiner", ...) to a FAMILIES key."""
    name = name.lower()
    for family in ("sdxl_refiner", "sdxl", "sd2", "sd1"):  # longest first: "sdxl" prefixes "sdxl_refiner"
        if name.startswith(family):
            return family
    raise UnsupportedTextEncoder(f"no text-encoder conventions for model family {name!r}")


def guess_family(towers: Mapping[str, str]) -> str:
    """Family from the towers alone: CLIP-L only = SD1, CLIP-L + OpenCLIP = SDXL, OpenCLIP under the
    SGM `conditioner.` prefix = SDXL refiner, under `cond_stage_model.` = SD2."""
    layouts = sorted(towers.values())
    if layouts == ["hf"]:
        return "sd1"
    if layouts == ["hf", "open_clip"]:
        return "sdxl"
    if layouts == ["open_clip"]:
        return "sdxl_refiner" if next(iter(towers)).startswith("conditioner.") else "sd2"
    raise UnsupportedTextEncoder(f"unrecognised text encoder combination: {dict(towers)}")


class CLIP:
    """Tokenize and encode prompts for one model family. Modules live in `encoders[name].model`;
    device placement is the caller's (the model manager moves them; encode follows the weights)."""

    def __init__(
        self,
        encoders: dict[str, TextEncoder],
        pooled_from: str,
        embeddings: EmbeddingLibrary | None = None,
        tokenizer: CLIPTokenizer | None = None,
        layer_idx: int | None = None,
    ) -> None:
        self.encoders = encoders
        self.pooled_from = pooled_from
        self.embeddings = embeddings or EmbeddingLibrary()
        self.tokenizer = tokenizer or shared_tokenizer()
        self.layer_idx = layer_idx

    @property
    def modules(self) -> dict[str, nn.Module]:
        """The torch modules by tower name ("l", "h", "g"), for the model manager."""
        return {name: encoder.model for name, encoder in self.encoders.items()}

    def clone(self) -> CLIP:
        """A shallow copy sharing the towers; settings changed on it leave the original alone."""
        return copy.copy(self)

    def with_layer(self, layer_idx: int | None) -> CLIP:
        """A copy that stops at `layer_idx` (-1 last, -2 penultimate, ...; None = family default)."""
        clone = self.clone()
        clone.layer_idx = layer_idx
        return clone

    def tokenize(self, text: str) -> Tokens:
        """Prompt -> {tower name: 77-token windows of (token, weight)}."""
        return {name: self._windows(name, text) for name in self.encoders}

    def tokenize_pair(self, text_g: str, text_l: str) -> Tokens:
        """SDXL's separate prompts for bigG and CLIP-L, padded with empty windows to equal counts."""
        tokens = {"g": self._windows("g", text_g), "l": self._windows("l", text_l)}
        count = max(len(chunks) for chunks in tokens.values())
        for name, chunks in tokens.items():
            chunks.extend(empty_chunk(self.encoders[name].pad_token) for _ in range(count - len(chunks)))
        return tokens

    def _windows(self, name: str, text: str) -> list[Chunk]:
        """One tower's windows for `text`, with that tower's padding and embedding vectors."""
        encoder = self.encoders[name]

        def lookup(embedding: str):
            return self.embeddings.vectors(embedding, encoder.embedding_key, encoder.width)

        return tokenize_prompt(text, self.tokenizer, encoder.pad_token, lookup)

    def encode(self, tokens: Tokens) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens -> (cond [1, 77*k, sum of widths], pooled [1, P]); float32 on CPU."""
        outputs = {
            name: self.encoders[name].encode(chunks, self.layer_idx) for name, chunks in tokens.items()
        }
        missing = set(self.encoders) - set(outputs)
        if missing:
            raise ValueError(f"tokens for text encoder(s) {sorted(missing)} are missing")
        length = min(cond.shape[1] for cond, _ in outputs.values())
        cond = torch.cat([outputs[name][0][:, :length] for name in self.encoders], dim=-1)
        return cond, outputs[self.pooled_from][1]

    def encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """tokenize + encode."""
        return self.encode(self.tokenize(text))

    def encode_from_tokens(self, tokens: Tokens, return_pooled: bool = False):
        """ComfyUI's method name, for node packs: cond, or (cond, pooled) with return_pooled."""
        cond, pooled = self.encode(tokens)
        return (cond, pooled) if return_pooled else cond


def load_clip(
    state_dict: Mapping[str, torch.Tensor], family: str | None = None, embedding_dirs: Sequence[Path] = ()
) -> CLIP:
    """Build the CLIP object from a checkpoint's tensors (all prefixes present), for `family` or the
    family the towers imply."""
    towers = find_text_towers(list(state_dict))
    family = normalize_family(family) if family else guess_family(towers)
    by_layout: dict[str, list[str]] = {}
    for prefix, layout in towers.items():
        by_layout.setdefault(layout, []).append(prefix)
    encoders = {}
    for name, layout, key, pad, layer, norm in FAMILIES[family]:
        prefixes = by_layout.get(layout, [])
        if len(prefixes) != 1:
            raise UnsupportedTextEncoder(
                f"{family} needs one {layout} text encoder for {key}; found {dict(towers) or 'none'}"
            )
        prefix = prefixes[0]
        tower = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        encoders[name] = TextEncoder(load_text_model(tower), pad, key, layer, norm)
    return CLIP(encoders, POOLED_FROM[family], EmbeddingLibrary(embedding_dirs))
