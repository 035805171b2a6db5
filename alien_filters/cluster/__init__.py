"""Cluster mode: the batch as a Ray Data job (``process --ray``). Ray is an optional extra (``alien-filters[ray]``)
and is imported only when a run asks for it; nothing below this layer imports it."""
