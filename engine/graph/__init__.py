"""The graph runtime: node specs, registry, validation, cache and executor. Never imports torch."""
