"""Batches on disk: discovery of inputs, image loading, the runner, its stage cache, atomic writes, manifests,
previews, the output-folder lock and output names."""
