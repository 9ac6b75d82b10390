"""ComfyUI's `comfy.options`: whether comfy.cli_args parses the command line (in Loom it never does)."""

args_parsing = False


def enable_args_parsing(enable: bool = True) -> None:
    """Accepted for packs that call it; Loom's command line belongs to Loom."""
    global args_parsing
    args_parsing = enable
