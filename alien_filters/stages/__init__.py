"""The model-backed stages (SwinIR restore, OWL-ViT/CLIP tagging, SAM segmentation, diffusers inpainting) and the
factory that builds them from the model manager."""
