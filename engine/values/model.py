"""How a checkpoint file becomes MODEL, CLIP and VAE values (model_patcher.py, text_encoder.py, vae.py).

Socket values are light: a handle on weights held by the model manager plus the detected config, so the
graph cache never holds weights and a file used by consecutive prompts is loaded once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import torch

from engine.memory import ModelHandle, ModelManager, file_key
from engine.models.checkpoint import LazyStateDict, open_checkpoint
from engine.models.clip import load_clip
from engine.models.detect import CheckpointConfig, UnsupportedCheckpoint, detect_file, infer_vae_config
from engine.models.unet import UNetModel
from engine.models.vae import AutoencoderKL, VAEConfig
from engine.values.text_encoder import TextEncoderModel, TextTowers
from engine.values.vae import VAEModel


class _PrefixedView(Mapping):
    """The tensors of a lazy state dict under some prefixes, keys kept whole, read on access."""

    def __init__(self, source: LazyStateDict, prefixes: tuple[str, ...]):
        self.source, self._keys = source, [k for k in source if k.startswith(prefixes)]

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.source[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = self.source.shapes()
        return {k: shapes[k] for k in self._keys}

    def dtypes(self) -> dict[str, torch.dtype]:
        dtypes = self.source.dtypes()
        return {k: dtypes[k] for k in self._keys}


def text_encoder_model(manager: ModelManager, path: Path, config: CheckpointConfig,
                       embedding_dirs: Sequence[Path]) -> TextEncoderModel | None:
    """The CLIP value of a checkpoint's text encoders (None when it has none, e.g. SVD)."""
    prefixes = tuple(spec.prefix for spec in config.text_encoders if not spec.kind.startswith("clip_vision"))
    if not prefixes:
        return None
    handle = manager.handle(
        file_key(path, "clip"), name=f"{path.name} (clip)", kind="clip",
        load=lambda weights: TextTowers(load_clip(weights, config.family, embedding_dirs)),
        state_dict=lambda: _PrefixedView(open_checkpoint(path), prefixes),
    )
    return TextEncoderModel(handle)


@functools.lru_cache(maxsize=32)
def _detect(key: str, path: str) -> CheckpointConfig:
    return detect_file(path)[0]


def detect_checkpoint_file(path: Path) -> CheckpointConfig:
    """Detect a checkpoint once per file version (the key changes when the file does)."""
    return _detect(file_key(path, "config"), str(path))


def unet_handle(manager: ModelManager, path: Path, config: CheckpointConfig) -> ModelHandle:
    """The manager's handle on a checkpoint's UNet (nothing is read until it is used)."""
    return manager.handle(
        file_key(path, "unet"), name=f"{path.name} (unet)", kind="unet",
        build=lambda: UNetModel(config.unet),
        state_dict=lambda: open_checkpoint(path).with_prefix(config.unet_prefix),
    )


def vae_model(manager: ModelManager, path: Path, prefix: str, config: VAEConfig) -> VAEModel:
    """A VAE socket value for the AutoencoderKL under `prefix` in `path`."""
    handle = manager.handle(
        file_key(path, f"vae:{prefix}"), name=f"{path.name} (vae)", kind="vae",
        build=lambda: AutoencoderKL(config),
        state_dict=lambda: open_checkpoint(path).with_prefix(prefix),
    )
    return VAEModel(handle, config)


def load_vae_file(manager: ModelManager, path: Path) -> VAEModel:
    """A standalone VAE file (bare `encoder.*`/`decoder.*` keys, or under `first_stage_model.`)."""
    shapes = open_checkpoint(path).shapes()
    prefix = "first_stage_model." if "first_stage_model.decoder.conv_in.weight" in shapes else ""
    try:
        config = infer_vae_config(shapes, prefix)
    except UnsupportedCheckpoint as exc:
        raise UnsupportedCheckpoint(f"{path.name}: not an AutoencoderKL VAE in the single-file layout: {exc}") from exc
    return vae_model(manager, path, prefix, config)
