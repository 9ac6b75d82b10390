"""How nodes reach the host's models: the model folders and model manager from Services, a live combo of
a folder's files, and the file version an `is_changed` hook reports."""

from engine.graph.context import current
from engine.graph.native import Combo
from engine.memory import ModelManager, file_key
from engine.paths import Folders, ModelNotFound


def model_manager(ctx) -> ModelManager:
    """The host's model manager (Services.models); a clear error when the host did not provide one."""
    manager = ctx.services.models
    if manager is None:
        raise RuntimeError("no model manager: the host must pass Services(models=engine.memory.ModelManager(...))")
    return manager


def folders_of(ctx) -> Folders:
    """The host's folders (Services.folders), where model files are found; a clear error when missing."""
    folders = ctx.services.folders
    if folders is None:
        raise RuntimeError("no model folders: the host must pass Services(folders=engine.paths.Folders(...))")
    return folders


def model_files(kind: str, tooltip: str) -> Combo:
    """A combo of the model files of `kind`, listed live; validation names the folders searched."""
    return Combo(lambda folders: folders.list(kind) if folders is not None else [], tooltip=tooltip,
                 model_folder=kind)


def file_version(kind: str, name: str) -> str:
    """Which version of a model file a name resolves to now (path and mtime): a replaced file re-runs the
    loader even when the graph cache has its output; '' when it cannot be resolved (the run reports why)."""
    ctx = current()
    folders = ctx.services.folders if ctx is not None else None
    if folders is None:
        return ""
    try:
        return file_key(folders.find(kind, name), kind)
    except ModelNotFound:
        return ""
