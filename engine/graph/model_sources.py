"""Where a workflow says its model files come from, added to the "model file not found" errors.

Canvas workflows (ComfyUI's templates among them) list, in a loader node's `properties.models` or in
the workflow's own `models`, `{name, url, directory}` for each file they need. A user missing a file
is then told the URL and the folder to put it in, not only the folders that were searched.
"""

from __future__ import annotations

from typing import Any


def model_sources(workflow: Any) -> dict[str, dict]:
    """File name -> {"url", "directory"} from a canvas workflow (subgraphs included); {} for anything else."""
    if not isinstance(workflow, dict):
        return {}
    graphs = [workflow, *((workflow.get("definitions") or {}).get("subgraphs") or [])]
    entries: list[Any] = list(workflow.get("models") or [])
    for graph in graphs:
        for node in graph.get("nodes") or [] if isinstance(graph, dict) else []:
            properties = node.get("properties") if isinstance(node, dict) else None
            if isinstance(properties, dict):
                entries.extend(properties.get("models") or [])
    return {entry["name"]: {"url": entry.get("url"), "directory": entry.get("directory")}
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry.get("url")}


def explain_missing_models(node_errors: dict[str, dict], workflow: Any) -> None:
    """Add the workflow's URL (and folder) for each missing model file to its error, in place."""
    sources = model_sources(workflow)
    if not sources:
        return
    for entry in node_errors.values():
        for error in entry.get("errors", []):
            info = error.get("extra_info") or {}
            source = sources.get(info.get("received_value")) if "model_folder" in info else None
            if source is None:
                continue
            folder = source["directory"] or info["model_folder"]
            error["details"] += f". The workflow says it comes from {source['url']} (save it in models/{folder}/)"
            info["url"] = source["url"]
