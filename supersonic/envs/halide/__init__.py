"""Halide image pipelines and their schedules: pipelines, knobs, the measuring process, the env."""
