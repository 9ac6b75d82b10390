"""Model architectures (UNet, VAE, text encoders), checkpoint reading and family detection."""
