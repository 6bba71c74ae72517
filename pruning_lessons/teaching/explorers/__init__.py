"""Slider explorers, one module per lesson or theme: thin ipywidgets over tested functions."""
