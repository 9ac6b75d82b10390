"""Training adapters on a placed UNet (ComfyUI's TrainLoraNode)."""
