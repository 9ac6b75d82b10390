"""Read single-file checkpoints without loading what is not needed.

.safetensors files are opened memory-mapped and read tensor by tensor on access; .ckpt/.pt/.pth/.bin go
through torch.load(weights_only=True, mmap=True) only (no pickled code runs). Wrapper levels
("state_dict", "module.") are removed; EMA copies and DDPM schedule buffers are hidden.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
SAFETENSORS_SUFFIXES = (".safetensors", ".sft")

# Buffers of the training-time DDPM / denoiser wrappers: schedules recomputed at sampling time.
_IGNORED_KEYS = frozenset(
    {
        "betas",
        "alphas_cumprod",
        "alphas_cumprod_prev",
        "sqrt_alphas_cumprod",
        "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod",
        "sqrt_recip_alphas_cumprod",
        "sqrt_recipm1_alphas_cumprod",
        "posterior_variance",
        "posterior_log_variance_clipped",
        "posterior_mean_coef1",
        "posterior_mean_coef2",
        "logvar",
        "denoiser.sigmas",
    }
)
_IGNORED_PREFIXES = ("model_ema.",)
# The dtype names of a safetensors header, as torch dtypes.
_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2, "I64": torch.int64, "I32": torch.int32,
    "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}


class CheckpointError(ValueError):
    """A file that cannot be read as a checkpoint (names the file and the reason)."""


def is_ignored_key(key: str) -> bool:
    """True for EMA copies and DDPM buffers, which never feed a model."""
    return key in _IGNORED_KEYS or key.startswith(_IGNORED_PREFIXES)


class LazyStateDict(Mapping):
    """Read-only mapping key -> tensor over a checkpoint; tensors are read only when accessed.

    `shapes()` lists every tensor's shape without reading data, `metadata` holds the safetensors
    header metadata (empty for pickled files), `with_prefix(p)` is a view of the keys under `p`.
    """

    def __init__(self, path: Path, raw_keys: dict[str, str], reader, metadata: dict[str, str]):
        self.path = path
        self._raw_keys = raw_keys
        self._reader = reader
        self.metadata = metadata

    def __getitem__(self, key: str) -> torch.Tensor:
        return self._reader.tensor(self._raw_keys[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw_keys)

    def __len__(self) -> int:
        return len(self._raw_keys)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """key -> shape for every tensor, without reading tensor data."""
        return {key: self._reader.shape(raw) for key, raw in self._raw_keys.items()}

    def dtypes(self) -> dict[str, torch.dtype]:
        """key -> dtype for every tensor, without reading tensor data."""
        return {key: self._reader.dtype(raw) for key, raw in self._raw_keys.items()}

    def with_prefix(self, prefix: str) -> LazyStateDict:
        """The tensors whose keys start with `prefix`, keyed without it."""
        keys = {k[len(prefix) :]: raw for k, raw in self._raw_keys.items() if k.startswith(prefix)}
        return LazyStateDict(self.path, keys, self._reader, self.metadata)


class _SafetensorsReader:
    def __init__(self, path: Path):
        self._file = safe_open(str(path), framework="pt", device="cpu")

    def keys(self) -> list[str]:
        return list(self._file.keys())

    def metadata(self) -> dict[str, str]:
        return dict(self._file.metadata() or {})

    def tensor(self, key: str) -> torch.Tensor:
        return self._file.get_tensor(key)

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self._file.get_slice(key).get_shape())

    def dtype(self, key: str) -> torch.dtype:
        name = self._file.get_slice(key).get_dtype()
        if name not in _SAFETENSORS_DTYPES:
            raise CheckpointError(f"tensor {key!r} has a dtype Loom does not read: {name}")
        return _SAFETENSORS_DTYPES[name]


class _PickleReader:
    def __init__(self, path: Path):
        try:
            loaded = _torch_load(path)
        except Exception as exc:
            raise CheckpointError(f"{path.name}: not loadable with torch.load(weights_only=True): {exc}") from exc
        while isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
            loaded = loaded["state_dict"]
        if not isinstance(loaded, dict):
            raise CheckpointError(f"{path.name}: holds a {type(loaded).__name__}, not a dict of tensors")
        self._tensors = {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}

    def keys(self) -> list[str]:
        return list(self._tensors)

    def metadata(self) -> dict[str, str]:
        return {}

    def tensor(self, key: str) -> torch.Tensor:
        return self._tensors[key]

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self._tensors[key].shape)

    def dtype(self, key: str) -> torch.dtype:
        return self._tensors[key].dtype


def _torch_load(path: Path):
    """torch.load restricted to tensors and plain containers; memory-mapped unless the file predates zip."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "zip" not in str(exc).lower():
            raise
        return torch.load(path, map_location="cpu", weights_only=True)


def open_checkpoint(path: str | Path) -> LazyStateDict:
    """Open a checkpoint lazily; raises CheckpointError for unknown suffixes or unreadable files."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        try:
            reader = _SafetensorsReader(path)
        except Exception as exc:
            raise CheckpointError(f"{path.name}: not a readable .safetensors file: {exc}") from exc
    elif suffix in PICKLE_SUFFIXES:
        reader = _PickleReader(path)
    else:
        expected = ", ".join(SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES)
        raise CheckpointError(f"{path.name}: unsupported file type {suffix!r}; expected one of {expected}")
    raw = reader.keys()
    strip = "module." if raw and all(k.startswith("module.") for k in raw) else ""
    keys = {k[len(strip) :]: k for k in raw if not is_ignored_key(k[len(strip) :])}
    return LazyStateDict(path, keys, reader, reader.metadata())


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Every model tensor of a checkpoint as a plain dict (wrappers stripped, EMA/DDPM buffers dropped)."""
    return dict(open_checkpoint(path))


def strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under `prefix`, keyed without it."""
    return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}


def load_weights(module: nn.Module, state_dict: Mapping[str, torch.Tensor], what: str) -> None:
    """Strictly load `state_dict` into `module`; the error names `what` and the first mismatches."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [k for k in expected if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
        raise CheckpointError(f"{what}: weights do not match the model: " + "; ".join(parts))
    module.load_state_dict(dict(state_dict), strict=True, assign=_on_meta(module))


def _on_meta(module: nn.Module) -> bool:
    return any(p.is_meta for p in module.parameters())
