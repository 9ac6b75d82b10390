"""The prompt worker thread allocates from the main malloc arena (launch/allocator.py): a thread arena made
a full-size UNet step about a quarter slower. Counted with glibc's own malloc_info report."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

COUNT_ARENAS = """
import ctypes, ctypes.util, os, sys, tempfile, threading
sys.path.insert(0, {root!r})
if sys.argv[1] == "cli":
    from launch.cli import main
    assert main(["packs", "check", tempfile.mkdtemp()]) == 0
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.fopen.restype = ctypes.c_void_p
def allocate():
    blocks = [libc.malloc(1 << 16) for _ in range(64)]
    for block in blocks:
        libc.free(ctypes.c_void_p(block))
worker = threading.Thread(target=allocate)
worker.start()
worker.join()
path = os.path.join(tempfile.mkdtemp(), "malloc.xml")
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(open(path).read().count("<heap nr="))
"""


def _arenas(mode: str) -> int:
    code = COUNT_ARENAS.format(root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas are a Linux matter")
def test_a_worker_thread_shares_the_main_arena_once_loom_has_started():
    assert _arenas("plain") >= 2  # the check can fail: by default the thread gets an arena of its own
    assert _arenas("cli") == 1  # after `main.py packs check`, the same entry point as the server's
