"""Hand-designed architectures of the preset spaces, kept as plain values (as DARTS
keeps its genotypes.py): the baselines a search has to beat. `--genotype=NAME`
retrains one exactly like a found genotype; `genotype.load` reads them.

Every searchable layer of `large`/`xlarge` is residual (a shortcut plus the op), so
these are the residual forms of the networks they are named after.
"""
import os

from radars_tf.errors import UserError

LARGE_LAYERS = 14      # stages of `large`: 2 + 4 + 4 + 2 + 2 layers

KNOWN = {
    # MobileNetV2 (Sandler et al. 2018): inverted residuals, expansion 1 in the first
    # block, 6 after it, 3x3 depthwise kernels.
    "mobilenetv2": ("large", ("mbconv_e1_k3",) + ("mbconv_e6_k3",) * (LARGE_LAYERS - 1)),
    # The same with expansion 3: a third of the FLOPs.
    "mobilenetv2_e3": ("large", ("mbconv_e1_k3",)
                       + ("mbconv_e3_k3",) * (LARGE_LAYERS - 1)),
    # A plain residual network of 3x3 convolutions (ResNet's basic block, one conv).
    "plain_conv": ("large", ("conv_k3",) * LARGE_LAYERS),
}


def check_name(name_or_path: str) -> str:
  """`name_or_path` if it is a known genotype or an existing file, else UserError
  (TensorFlow-free: config validation calls it before TF is imported)."""
  if name_or_path in KNOWN or os.path.isfile(name_or_path):
    return name_or_path
  raise UserError(f"--genotype {name_or_path}: neither a known genotype "
                  f"({', '.join(KNOWN)}) nor a file")
