"""workflows/sd15_merge_save.json end to end: merge two checkpoints, save, sample; the saved file reloaded
by name samples the same picture bit for bit, and a v-prediction model stays one after saving."""

import numpy as np
from safetensors import safe_open

from engine.models.detect import detect_file
from tests.fixtures.workflow_runner import SIZE, workflow
from tests.merging.conftest import PAIRS

SAVED = "merged_00001_.safetensors"


def test_merged_checkpoint_saved_by_the_workflow_reloads_and_samples_the_same_image(loom):
    prompt = workflow("sd15_merge_save")
    merged = loom.image(loom.run(prompt))
    assert merged.shape == (SIZE, SIZE, 3)
    assert (loom.folders.output_dir / "checkpoints" / SAVED).is_file()

    for node_id in ("2", "3", "4", "5"):
        del prompt[node_id]
    prompt["1"]["inputs"]["ckpt_name"] = SAVED
    prompt["10"]["inputs"]["model"] = ["1", 0]
    prompt["6"]["inputs"]["clip"] = prompt["7"]["inputs"]["clip"] = ["1", 1]
    reloaded = loom.image(loom.run(prompt))
    assert np.array_equal(merged, reloaded)

    prompt["1"]["inputs"]["ckpt_name"] = PAIRS["sd15"][0]
    assert np.abs(loom.image(loom.run(prompt)) - merged).mean() > 1.0


def test_saved_v_prediction_checkpoint_keeps_its_v_pred_marker_and_workflow_metadata(loom):
    first, second = PAIRS["sd21v"]
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": first}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": second}},
        "3": {"class_type": "ModelMergeSimple", "inputs": {"model1": ["1", 0], "model2": ["2", 0], "ratio": 0.5}},
        "4": {"class_type": "CheckpointSave", "inputs": {"model": ["3", 0], "clip": ["1", 1], "vae": ["1", 2],
                                                          "filename_prefix": "checkpoints/sd21v"}},
    }
    loom.run(prompt)
    path = loom.folders.output_dir / "checkpoints" / "sd21v_00001_.safetensors"
    config, _ = detect_file(path)
    assert (config.family, config.prediction_type) == ("sd2", "v")
    with safe_open(str(path), "pt") as saved:
        assert "v_pred" in list(saved.keys())
        assert saved.metadata()["modelspec.predict_key"] == "v"
        assert '"CheckpointSave"' in saved.metadata()["prompt"]
