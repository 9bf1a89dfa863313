"""TVM tensor-program scheduling: workloads, schedule knobs, the measuring process, the env."""
