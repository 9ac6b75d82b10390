"""The progress display: plain lines for logs, a redrawn bar on a terminal."""

import io

from engine.graph.events import Event
from engine.progress_display import ProgressDisplay

PROMPT = {"1": {"class_type": "EmptyImage", "inputs": {}, "_meta": {"title": "Empty Image"}},
          "2": {"class_type": "KSampler", "inputs": {}, "_meta": {"title": "First pass"}},
          "3": {"class_type": "SaveImage", "inputs": {}}}


class Terminal(io.StringIO):
    def isatty(self):
        return True


def play(stream):
    display = ProgressDisplay(PROMPT, 3, stream=stream, display_names={"EmptyImage": "Empty Image"})
    events = [Event("execution_start", {}), Event("execution_cached", {"nodes": ["1"]}),
              Event("executing", {"node": "2"})]
    events += [Event("progress", {"node": "2", "value": v, "max": 8}) for v in range(1, 9)]
    events += [Event("executing", {"node": "3"}), Event("executing", {"node": None})]
    for event in events:
        display(event)
    display.finish("done")
    return stream.getvalue()


def test_plain_lines_when_not_a_terminal():
    lines = play(io.StringIO()).splitlines()
    assert lines[0] == "1 node(s) cached"
    assert lines[1] == "[1/2] #2 KSampler 'First pass'"
    assert [line for line in lines if line.startswith("    #2:")] == [
        "    #2: 1/8", "    #2: 2/8", "    #2: 4/8", "    #2: 6/8", "    #2: 8/8"]
    assert lines[-2] == "[2/2] #3 SaveImage"
    assert lines[-1].startswith("done in ")


def test_terminal_redraws_one_line_per_node_with_a_bar():
    text = play(Terminal())
    assert "\r\x1b[2K[1/2] #2 KSampler 'First pass' [" + "#" * 12 + "-" * 12 + "] 4/8" in text
    finished_lines = text.split("\n")
    assert finished_lines[1].endswith("] 8/8")  # node 2 keeps its full bar when node 3 starts
