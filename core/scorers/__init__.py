"""Scorers: the model-backed parts of the pipeline, batch-first (many texts, one call)."""
