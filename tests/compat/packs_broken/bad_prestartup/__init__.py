"""A pack whose prestartup script fails; the pack itself still loads."""

NODE_CLASS_MAPPINGS = {}
