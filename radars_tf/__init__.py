"""radars_tf: RADARS neural architecture search (RL pruning + DNAS) on TensorFlow."""
import os

# TensorFlow's default CPU allocator (oneDNN builds) hands allocations under 256 KB
# to malloc, outside its statistics, so a DNAS step's measured peak would miss its
# small tensors. A BFC allocator for every CPU allocation counts each byte, as the
# GPU's does. Read when the first op runs: set here, before any package code runs one.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
