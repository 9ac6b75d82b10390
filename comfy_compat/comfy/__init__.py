"""ComfyUI's `comfy` package, reduced to the submodules Loom emulates: `comfy.utils`, `comfy.model_management`.

Any other `comfy.*` import fails with ModuleNotFoundError naming the module, which the pack loader reports.
"""
