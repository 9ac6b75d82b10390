"""Built-in nodes, one small module per subject; every module here is registered as core at startup."""
