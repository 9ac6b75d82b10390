"""LoRA and LyCORIS adapters as weight patches on managed models (see apply.py)."""
