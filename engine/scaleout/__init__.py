"""Scale-out: the server's queue dispatched to a Ray cluster (`--executor ray`).

Nothing here imports Ray at module level except pool/executor code reached only when the Ray
executor is chosen; Ray is the optional extra `[ray]`.
"""
