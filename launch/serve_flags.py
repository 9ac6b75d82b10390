"""The server's flags (network, security, cache, front end), apart from the server itself so that
`main.py --help` and `main.py run` parse them without importing aiohttp or the web app."""

from __future__ import annotations

import argparse

from launch.cli import flag_default

TOKEN_ENV = "LOOM_AUTH_TOKEN"
EDITORS = ("loom", "comfyui")  # what --front-end chooses from: Loom's canvas or ComfyUI's frontend


def add_serve_flags(parser: argparse.ArgumentParser, suppress_defaults: bool = False) -> None:
    """Network, security, cache and pack flags of the server (ComfyUI's names where one exists)."""

    def default(value):
        return flag_default(value, suppress_defaults)

    group = parser.add_argument_group("server")
    group.add_argument("--listen", nargs="?", const="0.0.0.0", default=default("127.0.0.1"), metavar="HOSTS",
                       help="addresses to listen on, comma-separated (no value: 0.0.0.0; default 127.0.0.1)")
    group.add_argument("--port", type=int, default=default(8188), help="port (default 8188; 0 = any free port)")
    group.add_argument("--auth-token", default=default(None),
                       help=f"require this token on every request and the websocket (or set {TOKEN_ENV})")
    group.add_argument("--no-auth", action="store_true", default=default(False),
                       help="serve without a token even when listening beyond localhost")
    group.add_argument("--allow-origin", action="append", default=default([]), metavar="ORIGIN",
                       help="also accept requests from this Origin, e.g. http://localhost:5173 or * (repeatable)")
    group.add_argument("--allow-host", action="append", default=default([]), metavar="NAME",
                       help="also answer requests whose Host header is NAME (besides IP addresses, localhost and "
                            "the names in --listen; * = any). Other names are refused against DNS rebinding "
                            "(repeatable)")
    group.add_argument("--download-host", action="append", default=default([]), metavar="HOST",
                       help="also let the editor download missing models from HOST and its subdomains (besides "
                            "huggingface.co and civitai.com; * = any host) (repeatable)")
    group.add_argument("--max-upload-size", type=float, default=default(100.0), metavar="MB",
                       help="largest upload (multipart body), in MB (default 100)")
    group.add_argument("--max-prompt-size", type=float, default=default(8.0), metavar="MB",
                       help="largest JSON body (a prompt with its workflow), in MB; larger ones get 413 "
                            "(default 8)")
    group.add_argument("--front-end", choices=EDITORS, default=default("loom"),
                       help="the editor served at /: Loom's canvas (default) or ComfyUI's frontend "
                            "(pip install 'loom-diffusion[comfyui-frontend]')")
    group.add_argument("--cache-lru", type=int, default=default(0), metavar="N",
                       help="keep the outputs of up to N nodes across prompts (default: the last prompt's)")
    group.add_argument("--cache-none", action="store_true", default=default(False),
                       help="cache nothing between prompts (lowest memory)")
    from launch.compute_flags import add_compute_arguments  # --cpu, budgets, precision, attention
    from launch.scaleout import add_ray_arguments  # --executor ray and its options

    add_compute_arguments(parser, suppress_defaults=suppress_defaults)
    add_ray_arguments(parser, suppress_defaults=suppress_defaults)
