"""Compression methods: each is a scorer plugged into the shared pipeline."""
