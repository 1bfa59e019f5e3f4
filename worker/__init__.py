"""Render workers: arq tasks that turn a RenderSpec into an MP4 with a diffusers pipeline."""
