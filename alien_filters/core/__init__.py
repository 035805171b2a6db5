"""The core: stage contracts, the pipeline, planning, masks, compositing, sizing, vocabulary, the theme model and
run options. Pure Python with numpy and Pillow: no torch, no WebUI."""
