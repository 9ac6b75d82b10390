"""Kernels chosen by timing them on this machine (engine/kernel_timing.py): the fastest wins, each shape is timed
once, near ties get a second round, the choices outlive the process on the same machine only, and a 3×3
convolution layer takes whichever kernel was measured fastest for its shape."""

import argparse
import json
import time
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine import kernel_timing, winograd
from launch.compute_flags import add_compute_arguments, manager_from_args
from tests.fixtures.convolutions import exact_conv


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """No shape timed and no file kept, before and after."""
    monkeypatch.setattr(kernel_timing, "_chosen", {})
    monkeypatch.setattr(kernel_timing, "_store", None)


def counted(**seconds):
    """A `runs` factory for kernel_timing.fastest: runs that sleep the given seconds; `calls` counts each run
    and `made` the factory's calls."""
    calls = dict.fromkeys(seconds, 0)
    made = []

    def run(name):
        calls[name] += 1
        time.sleep(seconds[name])

    def runs():
        made.append(1)
        return {name: (lambda n=name: run(n)) for name in seconds}

    return runs, calls, made


def test_the_fastest_run_wins_and_each_key_is_timed_once():
    runs, calls, made = counted(slow=0.03, quick=0.0)
    assert kernel_timing.fastest("shape a", runs) == "quick"
    assert calls == {"slow": 1, "quick": 1}  # a clear winner after one round
    assert kernel_timing.fastest("shape a", runs) == "quick"
    assert made == [1] and kernel_timing.chosen() == {"shape a": "quick"}
    other, _, _ = counted(slow=0.0, quick=0.03)
    assert kernel_timing.fastest("shape b", other) == "slow"  # keys are timed apart


def test_near_ties_are_timed_a_second_round():
    runs, calls, _ = counted(a=0.01, b=0.011)
    kernel_timing.fastest("tie", runs)
    assert calls == {"a": kernel_timing.ROUNDS, "b": kernel_timing.ROUNDS}


def test_choices_outlive_the_process_on_the_same_machine_only(tmp_path, caplog):
    store = tmp_path / "kernel_choices.json"
    kernel_timing.remember_in(store)
    kernel_timing.fastest("shape a", counted(slow=0.03, quick=0.0)[0])
    saved = json.loads(store.read_text())
    assert saved == {"machine": kernel_timing.machine(), "choices": {"shape a": "quick"}}
    assert list(tmp_path.iterdir()) == [store]  # the temporary file was renamed over it

    kernel_timing.forget()  # a later process
    kernel_timing.remember_in(store)
    runs, _, made = counted(slow=0.0, quick=0.03)
    assert kernel_timing.fastest("shape a", runs) == "quick" and made == []

    store.write_text(json.dumps({**saved, "machine": "another CPU"}))
    kernel_timing.forget()
    kernel_timing.remember_in(store)
    assert kernel_timing.chosen() == {}
    kernel_timing.fastest("shape a", runs)
    assert json.loads(store.read_text())["choices"] == {"shape a": "slow"}  # rewritten for this machine

    store.write_text("{not json")
    kernel_timing.forget()
    kernel_timing.remember_in(store)
    assert kernel_timing.chosen() == {} and "not read" in caplog.text


def test_an_unwritable_file_keeps_the_choices_in_the_process(tmp_path, caplog):
    kernel_timing.remember_in(tmp_path / "gone" / "kernel_choices.json")
    assert kernel_timing.fastest("shape a", counted(slow=0.03, quick=0.0)[0]) == "quick"
    assert kernel_timing.chosen() == {"shape a": "quick"} and "not saved" in caplog.text
    assert not (tmp_path / "gone").exists()


def test_the_compute_flags_load_the_file_they_are_given(tmp_path):
    store = tmp_path / "kernel_choices.json"
    store.write_text(json.dumps({"machine": kernel_timing.machine(), "choices": {"conv3x3 test": "direct"}}))
    parser = argparse.ArgumentParser()
    add_compute_arguments(parser)
    manager_from_args(parser.parse_args(["--cpu"]), store)
    assert kernel_timing.chosen() == {"conv3x3 test": "direct"}


def _slowed(kernel, seconds):
    def slow(*args, **kwargs):
        time.sleep(seconds)
        return kernel(*args, **kwargs)
    return slow


@pytest.mark.parametrize("slow", ["unfolded", "direct"])
def test_a_layer_takes_the_kernel_measured_fastest_for_its_shape(monkeypatch, slow):
    """A 4×4 map can take the direct convolution or the unfolded product: whichever is made slow loses."""
    if slow == "unfolded":
        monkeypatch.setattr(winograd, "unfolded_conv3x3", _slowed(winograd.unfolded_conv3x3, 0.05))
    else:  # only the timed call of the direct convolution goes through engine/winograd's F
        monkeypatch.setattr(winograd, "F", SimpleNamespace(**{**vars(F), "conv2d": _slowed(F.conv2d, 0.05)}))
    torch.manual_seed(0)
    conv = winograd.use_winograd(nn.Sequential(nn.Conv2d(64, 96, 3, padding=1)))[0]
    x = torch.randn(2, 64, 4, 4)
    with torch.inference_mode():
        out = conv(x)
    assert kernel_timing.chosen() == {"conv3x3 2x64x4x4 96x64x3x3 threads "
                                      f"{torch.get_num_threads()}": "direct" if slow == "unfolded" else "unfolded"}
    exact = exact_conv(x, conv.weight, conv.bias)
    assert (out.double() - exact).abs().max().item() <= 1e-5 * exact.abs().max().item()
    if slow == "unfolded":
        assert torch.equal(out, F.conv2d(x, conv.weight, conv.bias, padding=1))


@pytest.mark.parametrize("slow", ["sliced", "whole"])
def test_a_half_weight_is_cast_the_way_measured_faster(monkeypatch, slow):
    """Manual cast of a heavy layer: slice by slice inside its product, or whole into the streamer's buffer
    first; whichever is made slow loses, and both give the upcast weights' result."""
    from engine import chunked_cast, onednn_linear
    from engine.memory_tiers import LayerStreamer

    owner = chunked_cast if slow == "sliced" else onednn_linear
    monkeypatch.setattr(owner, "linear", _slowed(owner.linear, 0.05))
    torch.manual_seed(0)
    reference = nn.Linear(64, 512).requires_grad_(False).half().float()
    layer = nn.Linear(64, 512).requires_grad_(False).half()
    layer.load_state_dict({k: v.half() for k, v in reference.state_dict().items()})
    streamer = LayerStreamer(layer, torch.device("cpu"), torch.device("cpu"), 1 << 40, compute_dtype=torch.float32)
    x = torch.randn(2, 64)
    with torch.inference_mode():
        out = layer(x)
    taken = "whole" if slow == "sliced" else "sliced"
    assert kernel_timing.chosen() == {f"cast ChunkedCastLinear 2x64 512x64 threads {torch.get_num_threads()}": taken}
    assert (streamer._scratch is not None) == (taken == "whole")
    torch.testing.assert_close(out, reference(x), rtol=1e-5, atol=1e-5)
