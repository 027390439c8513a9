"""Synthetic, reproducible benchmark data (``cpnav synth``). Not a Django app: no models."""
