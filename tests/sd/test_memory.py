"""The model manager: lazy loading, LRU offload under a budget, cross-prompt reuse, exact patch restore."""

import os

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from engine.memory import ModelManager, file_key
from engine.weight_patches import Patch
from launch.compute_flags import parse_size


def _toy(width: int = 32) -> nn.Module:
    return nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))


def _saved_toy(tmp_path, name: str, seed: int) -> str:
    torch.manual_seed(seed)
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in _toy().state_dict().items()}, str(path))
    return str(path)


def _handle(manager: ModelManager, path: str):
    return manager.handle(file_key(path, "toy"), name=os.path.basename(path), build=_toy,
                          state_dict=lambda: load_file(path))


TOY_BYTES = (32 * 32 + 32) * 2 * 4


@pytest.fixture
def events():
    return []


@pytest.fixture
def manager(events):
    return ModelManager(device="cpu", ram_budget=int(TOY_BYTES * 1.5), on_event=events.append)


def _moves(events):
    return [(e.type, e.data["model"], e.data["to"]) for e in events]


def test_nothing_is_read_until_a_model_is_used(tmp_path, manager, events):
    handle = _handle(manager, _saved_toy(tmp_path, "a", 0))
    assert handle.location == "disk" and events == []
    assert handle.module_shapes()["0.weight"] == (32, 32)
    manager.load(handle)
    assert _moves(events) == [("model_load", "a.safetensors", "cpu")]
    assert events[0].data["bytes"] == TOY_BYTES and events[0].data["dtype"] == "float32"


def test_budget_smaller_than_two_models_offloads_lru_and_reloads_with_same_result(tmp_path, manager, events):
    a, b = _handle(manager, _saved_toy(tmp_path, "a", 0)), _handle(manager, _saved_toy(tmp_path, "b", 1))
    x = torch.randn(2, 32)
    with torch.no_grad():
        first = manager.load(a)(x)
        manager.load(b)(x)
        again = manager.load(a)(x)
    assert _moves(events) == [
        ("model_load", "a.safetensors", "cpu"),
        ("model_offload", "a.safetensors", "disk"),
        ("model_load", "b.safetensors", "cpu"),
        ("model_offload", "b.safetensors", "disk"),
        ("model_load", "a.safetensors", "cpu"),
    ]
    assert torch.equal(first, again)
    assert manager.used("cpu") <= manager.ram_budget


def test_model_in_use_is_not_offloaded_even_over_budget(tmp_path, manager, events):
    a, b = _handle(manager, _saved_toy(tmp_path, "a", 0)), _handle(manager, _saved_toy(tmp_path, "b", 1))
    with manager.use(a):
        manager.load(b)
        assert a.location == "cpu" and b.location == "cpu"
    assert events[-1].data["over_budget"] is True


def test_same_file_requested_again_is_not_reloaded(tmp_path, manager, events):
    path = _saved_toy(tmp_path, "a", 0)
    manager.load(_handle(manager, path))
    manager.load(_handle(manager, path))
    assert [e.type for e in events] == ["model_load"]


def test_file_changed_on_disk_gets_fresh_weights(tmp_path, manager, events):
    path = _saved_toy(tmp_path, "a", 0)
    old = manager.load(_handle(manager, path))[0].weight.clone()
    _saved_toy(tmp_path, "a", 5)
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))
    new = manager.load(_handle(manager, path))[0].weight
    assert not torch.equal(old, new)
    assert [(e.type, e.data["to"]) for e in events] == [
        ("model_load", "cpu"), ("model_offload", "disk"), ("model_load", "cpu")]


def test_patches_apply_change_and_remove_bit_identical(tmp_path, manager):
    base = _handle(manager, _saved_toy(tmp_path, "a", 0))
    original = {k: v.clone() for k, v in manager.load(base).state_dict().items()}
    delta = torch.randn(32, 32)
    half = base.with_patches([Patch("0.weight", delta, 0.5)])
    doubled = base.with_patches([Patch("2.bias", lambda w, s: w * (1 + s), 1.0)])

    patched = manager.load(half).state_dict()
    assert torch.allclose(patched["0.weight"], original["0.weight"] + 0.5 * delta)
    assert torch.equal(patched["2.weight"], original["2.weight"])

    stronger = half.with_patches([Patch("0.weight", delta, 0.25)])
    assert torch.allclose(manager.load(stronger).state_dict()["0.weight"], original["0.weight"] + 0.75 * delta)

    other = manager.load(doubled).state_dict()
    assert torch.equal(other["0.weight"], original["0.weight"])
    assert torch.equal(other["2.bias"], original["2.bias"] * 2)

    restored = manager.load(base).state_dict()
    assert all(torch.equal(restored[k], original[k]) for k in original)


def test_patch_on_unknown_weight_names_it(tmp_path, manager):
    base = _handle(manager, _saved_toy(tmp_path, "a", 0))
    with pytest.raises(KeyError, match="9.weight"):
        manager.load(base.with_patches([Patch("9.weight", torch.zeros(1), 1.0)]))


def _load_toy(state_dict) -> nn.Module:
    module = _toy()
    module.load_state_dict(state_dict)
    return module


@pytest.mark.parametrize("how", ["build", "load"])
def test_forced_precision_holds_weights_in_that_dtype(tmp_path, how):
    manager = ModelManager(device="cpu", ram_budget=10**9, precision="bf16")
    path = _saved_toy(tmp_path, "a", 0)
    factory = {"build": _toy} if how == "build" else {"load": _load_toy}
    handle = manager.handle("k", name="a", state_dict=lambda: load_file(path), **factory)
    weight = manager.load(handle)[0].weight
    assert weight.dtype == torch.bfloat16
    assert torch.equal(weight, load_file(path)["0.weight"].bfloat16())


@pytest.mark.parametrize("text, expected", [("6GB", 6 << 30), ("512MiB", 512 << 20), ("1.5", 3 << 29),
                                            ("100b", 100)])
def test_memory_sizes_parse(text, expected):
    assert parse_size(text) == expected


def test_the_heap_is_trimmed_once_when_a_model_run_ends(tmp_path, manager, monkeypatch):
    """The activations a run freed go back to the system when its last user is done, not between nested uses."""
    import engine.memory

    trims = []
    monkeypatch.setattr(engine.memory, "trim_heap", lambda: trims.append(1))
    handle = _handle(manager, _saved_toy(tmp_path, "a", 0))
    with manager.use(handle):
        with manager.use(handle):
            pass
        assert trims == []
    assert trims == [1]
