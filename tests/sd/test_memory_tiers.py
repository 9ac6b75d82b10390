"""The model manager's tiers (device -> host RAM -> disk) and partial loading, on a CPU-only machine: the
'device' tier is the CPU under its own budget, so every move between tiers runs and is checked here."""

import os

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from engine.memory import ModelManager, file_key
from engine.memory_tiers import Tier

WIDTH = 32
LAYER_BYTES = (WIDTH * WIDTH + WIDTH) * 4
DEPTH = 4
TOY_BYTES = LAYER_BYTES * DEPTH
CPU = torch.device("cpu")


def _toy() -> nn.Module:
    return nn.Sequential(*(m for _ in range(DEPTH) for m in (nn.Linear(WIDTH, WIDTH), nn.GELU())))


def _handle(manager: ModelManager, tmp_path, name: str, seed: int):
    torch.manual_seed(seed)
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in _toy().state_dict().items()}, str(path))
    return manager.handle(file_key(path, "toy"), name=os.path.basename(path), build=_toy,
                          state_dict=lambda: load_file(str(path)))


def _manager(events, device_budget: int, host_budget: int) -> ModelManager:
    tiers = [Tier("device", CPU, device_budget), Tier("cpu", CPU, host_budget), Tier("disk", None, 1 << 62)]
    return ModelManager(tiers=tiers, on_event=events.append)


def _moves(events):
    return [(e.type, e.data["model"].removesuffix(".safetensors"), e.data["source"], e.data["to"])
            for e in events]


def _run(manager, handle, x):
    with torch.no_grad():
        return manager.load(handle)(x)


def test_cpu_only_default_is_host_then_disk():
    assert [t.name for t in ModelManager(device="cpu", ram_budget=1 << 30).tiers] == ["cpu", "disk"]


def test_models_move_one_tier_down_lru_first_and_come_back_up_with_the_same_output(tmp_path):
    events = []
    manager = _manager(events, device_budget=int(TOY_BYTES * 1.5), host_budget=int(TOY_BYTES * 1.5))
    a, b, c = (_handle(manager, tmp_path, n, s) for n, s in (("a", 0), ("b", 1), ("c", 2)))
    x = torch.randn(2, WIDTH)
    first = _run(manager, a, x)
    _run(manager, b, x)
    assert (a.location, b.location) == ("cpu", "device")
    _run(manager, c, x)
    assert (a.location, b.location, c.location) == ("disk", "cpu", "device")
    assert torch.equal(_run(manager, a, x), first)
    assert _moves(events) == [
        ("model_load", "a", "disk", "device"),
        ("model_offload", "a", "device", "cpu"),
        ("model_load", "b", "disk", "device"),
        ("model_offload", "a", "cpu", "disk"),
        ("model_offload", "b", "device", "cpu"),
        ("model_load", "c", "disk", "device"),
        ("model_offload", "b", "cpu", "disk"),
        ("model_offload", "c", "device", "cpu"),
        ("model_load", "a", "disk", "device"),
    ]
    for tier in manager.tiers[:-1]:
        assert manager.used(tier.name) <= tier.budget


def test_offload_and_reload_between_host_and_device_keep_patches_exact(tmp_path):
    events = []
    manager = _manager(events, device_budget=TOY_BYTES * 2, host_budget=TOY_BYTES * 2)
    handle = _handle(manager, tmp_path, "a", 0)
    patched = handle.with_patches([("0.weight", torch.ones(WIDTH, WIDTH), 0.5)])
    x = torch.randn(2, WIDTH)
    plain, with_patch = _run(manager, handle, x), _run(manager, patched, x)
    assert not torch.equal(plain, with_patch)
    manager.offload(patched)
    assert patched.location == "cpu"
    assert torch.equal(_run(manager, handle, x), plain)
    assert torch.equal(_run(manager, patched, x), with_patch)
    manager.offload(handle)
    manager.offload(handle)
    assert handle.location == "disk"


def test_model_larger_than_the_device_budget_runs_with_streamed_layers_within_the_budget(tmp_path):
    events = []
    budget = int(LAYER_BYTES * 2.5)
    manager = _manager(events, device_budget=budget, host_budget=TOY_BYTES * 4)
    handle = _handle(manager, tmp_path, "a", 0)
    x = torch.randn(2, WIDTH)
    streamed = _run(manager, handle, x)
    streamer = handle.slot.streamer
    assert events[-1].data["streamed_layers"] == DEPTH - 1 and handle.location == "device"
    assert streamer.resident_bytes == LAYER_BYTES and streamer.peak_bytes == 2 * LAYER_BYTES <= budget
    whole = ModelManager(device="cpu", ram_budget=TOY_BYTES * 4)
    assert torch.equal(streamed, _run(whole, _handle(whole, tmp_path, "same", 0), x))


def test_streamed_model_offloaded_to_host_runs_whole_again(tmp_path):
    events = []
    manager = _manager(events, device_budget=int(LAYER_BYTES * 2.5), host_budget=TOY_BYTES * 4)
    handle = _handle(manager, tmp_path, "a", 0)
    x = torch.randn(2, WIDTH)
    streamed = _run(manager, handle, x)
    manager.offload(handle)
    assert handle.location == "cpu" and handle.slot.streamer is None
    assert all(not m._forward_pre_hooks for m in handle.slot.module.modules())
    assert torch.equal(handle.slot.module(x), streamed)


def test_device_budget_below_one_layer_is_a_clear_error(tmp_path):
    manager = _manager([], device_budget=LAYER_BYTES // 2, host_budget=TOY_BYTES * 4)
    with pytest.raises(MemoryError, match="largest layer"):
        manager.load(_handle(manager, tmp_path, "a", 0))
