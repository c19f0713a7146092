"""radars_tf: RADARS neural architecture search (RL pruning + DNAS) on TensorFlow."""
import os

# TensorFlow's default CPU allocator (oneDNN builds) hands allocations under 256 KB
# to malloc, outside its statistics, so a DNAS step's measured peak would miss its
# small tensors. A BFC allocator for every CPU allocation counts each byte, as the
# GPU's does. Read when the first op runs: set here, before any package code runs one.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

# TensorFlow enables oneDNN by default only on CPUs with AVX-512-class features.
# Without it (AVX2-only CPUs), a dense convolution's weight gradient runs TF's own
# kernel, whose im2col buffer is sized by the L3 cache (32 MB for a 1 MB conv,
# measured), which the memory model does not count. oneDNN's kernels need no such
# buffer: on, as on the machines the memory model was measured on. Read when
# TensorFlow is imported: effective only if radars_tf is imported first (as in
# `python -m radars_tf.run`); tests set it in their environment (tests/defs.bzl).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
