"""load_workflow reads API JSON, canvas JSON and the workflow embedded in PNG/WebP files."""

import io
import json

import av
import numpy as np
import pytest
from PIL import Image

from engine.graph.workflow_io import WorkflowFormatError, exif_metadata, load_workflow, png_info

PROMPT = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
          "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}
UI = {"version": 0.4, "nodes": [{"id": 1, "type": "ImageInvert", "inputs": [], "outputs": [], "mode": 0}],
      "links": []}


class OneNodeRegistry:
    def object_info_for(self, class_type):
        return {"input": {"required": {"image": ["IMAGE"]}}, "display_name": class_type}


def image_bytes(fmt, **save_kwargs):
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, format=fmt, **save_kwargs)
    return buf.getvalue()


def test_api_json_file(tmp_path):
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(PROMPT))
    assert load_workflow(path) == (PROMPT, None)


def test_prompt_request_body_keeps_workflow():
    body = {"prompt": PROMPT, "extra_data": {"extra_pnginfo": {"workflow": UI}}}
    assert load_workflow(json.dumps(body).encode()) == (PROMPT, UI)


def test_canvas_json_is_converted():
    api, ui = load_workflow(json.dumps(UI).encode(), registry=OneNodeRegistry())
    assert ui == UI
    assert api == {"1": {"class_type": "ImageInvert", "inputs": {}, "_meta": {"title": "ImageInvert"}}}


def test_png_text_chunks_round_trip():
    data = image_bytes("PNG", pnginfo=png_info(PROMPT, {"workflow": UI}))
    assert load_workflow(data) == (PROMPT, UI)


def test_webp_exif_round_trip():
    data = image_bytes("WEBP", exif=exif_metadata(PROMPT, {"workflow": UI}))
    assert load_workflow(data) == (PROMPT, UI)


def test_png_with_only_canvas_workflow_is_converted():
    data = image_bytes("PNG", pnginfo=png_info(None, {"workflow": UI}))
    api, ui = load_workflow(data, registry=OneNodeRegistry())
    assert list(api) == ["1"] and ui == UI


def test_image_without_workflow_says_so():
    with pytest.raises(WorkflowFormatError, match="no embedded workflow"):
        load_workflow(image_bytes("PNG"))


def test_unrelated_json_is_refused():
    with pytest.raises(WorkflowFormatError, match="neither"):
        load_workflow(b'{"hello": 1}')


def video_bytes(tags):
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata.update(tags)
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        for _ in range(2):
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


def test_mp4_container_tags_round_trip():
    data = video_bytes({"prompt": json.dumps(PROMPT), "workflow": json.dumps(UI)})
    assert load_workflow(data) == (PROMPT, UI)


def test_mp4_comment_tag_with_json():
    data = video_bytes({"comment": json.dumps({"prompt": PROMPT, "workflow": UI})})
    assert load_workflow(data) == (PROMPT, UI)
