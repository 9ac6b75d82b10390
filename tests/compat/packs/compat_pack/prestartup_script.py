"""Runs before any pack is imported; leaves a marker in the temp folder (folder_paths works here too)."""

import os

import folder_paths

os.makedirs(folder_paths.get_temp_directory(), exist_ok=True)
with open(os.path.join(folder_paths.get_temp_directory(), "compat_pack_prestartup"), "w") as marker:
    marker.write("ran")
