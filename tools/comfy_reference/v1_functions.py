"""Writes, for every node a ComfyUI checkout registers, the module defining it, the name of its FUNCTION
and that function's parameter names in order, its INPUT_TYPES and RETURN_TYPES: the data comfy_compat's
`nodes.<Class>().<function>(...)` adapters need to accept positional calls the way ComfyUI's classes do,
and to give packs ComfyUI's declaration of a core node Loom lacks (packs subclass them).

    /work/ref/comfy_venv/bin/python tools/comfy_reference/v1_functions.py /work/ref/ComfyUI OUT.json
"""

import asyncio
import inspect
import json
import os
import sys


def describe(cls) -> dict:
    function = getattr(cls, "FUNCTION", None)
    if function is None or not hasattr(cls, function):  # a V3 node: its classmethod `execute`
        function = "execute"
    params = []
    for param in inspect.signature(getattr(cls, function)).parameters.values():
        if param.name in ("self", "cls") or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        params.append(param.name)
    module = cls.__module__  # comfy_extras files are loaded by path: their module name is the path
    if os.sep in module:
        module = "comfy_extras." + os.path.basename(module)
    return {"function": function, "params": params, "module": module, "input_types": _jsonable(cls.INPUT_TYPES()),
            "return_types": _jsonable(list(getattr(cls, "RETURN_TYPES", ())))}


def _jsonable(value):
    """INPUT_TYPES with anything that is not JSON (a type object, a V3 widget) written as its string."""
    return json.loads(json.dumps(value, default=str))


def main(checkout: str, out: str) -> None:
    os.chdir(checkout)
    sys.path.insert(0, checkout)
    sys.argv = [sys.argv[0], "--cpu"]
    import comfy.options

    comfy.options.enable_args_parsing()
    import nodes

    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    table = {name: describe(cls) for name, cls in sorted(nodes.NODE_CLASS_MAPPINGS.items())}
    with open(out, "w") as handle:
        json.dump(table, handle, indent=0, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], os.path.abspath(sys.argv[2]))
