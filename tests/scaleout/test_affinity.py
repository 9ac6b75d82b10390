"""Without Ray: placement rules (model keys read from prompts, affinity first, then the least busy),
the command-line flags, and Ray staying out of the default server."""

import subprocess
import sys
from pathlib import Path

from engine.scaleout.affinity import WorkerState, choose_worker, model_keys
from launch.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_model_keys_are_the_model_files_a_prompt_loads():
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15/dream.safetensors"}},
              "2": {"class_type": "LoraLoader", "inputs": {"lora_name": "style.PT", "model": ["1", 0]}},
              "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["1", 1]}}}
    assert model_keys(prompt) == {"sd15/dream.safetensors", "style.PT"}


def test_idle_worker_holding_the_models_is_preferred_over_a_less_busy_one():
    holder, fresh = WorkerState("ray-1"), WorkerState("ray-2")
    holder.remember({"a.safetensors"}, seconds=30.0)
    assert choose_worker(frozenset({"a.safetensors"}), [fresh, holder]) is holder
    assert choose_worker(frozenset({"b.safetensors"}), [holder, fresh]) is fresh


def test_busy_or_dead_workers_are_never_chosen():
    busy, dead = WorkerState("ray-1", busy=True), WorkerState("ray-2", alive=False)
    busy.remember({"a.safetensors"}, 1.0)
    assert choose_worker(frozenset({"a.safetensors"}), [busy, dead]) is None
    dead.alive = True
    assert choose_worker(frozenset({"a.safetensors"}), [busy, dead]) is dead


def test_a_worker_remembers_a_bounded_number_of_recent_models():
    worker = WorkerState("ray-1")
    for i in range(40):
        worker.remember({f"m{i}.safetensors"}, 0.1)
    other = WorkerState("ray-2")
    assert choose_worker(frozenset({"m39.safetensors"}), [other, worker]) is worker
    assert choose_worker(frozenset({"m0.safetensors"}), [worker, other]) is other
    worker.forget_models()
    assert choose_worker(frozenset({"m39.safetensors"}), [other, worker]) is other


def test_ray_flags_parse_on_the_server_command_line():
    args = build_parser().parse_args(["--executor", "ray", "--ray-address", "10.0.0.5:6379", "--ray-workers", "3"])
    assert (args.executor, args.ray_address, args.ray_workers) == ("ray", "10.0.0.5:6379", 3)
    assert build_parser().parse_args([]).executor == "local"


def test_the_default_server_never_imports_ray():
    code = ("import sys; from launch.cli import build_parser; import launch.scaleout, engine.scaleout.affinity; "
            "args = build_parser().parse_args([]); print(args.executor, 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["local", "False"]
