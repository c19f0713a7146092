"""Supernet overhead against plain models, as markdown tables.

1. One supernet DNAS step (mixed mode, --candidates per layer) against the sum of
   the same ops, each run standalone on its own input (forward, backward, update);
   and a round's first step, its trace included, before and after a pruning.
2. One single_path step (as the agent's shared-weight training runs it) against
   the same child as a plain Keras model with a compiled train step.
3. The compiled train step of whole genotypes (known ones and every layer one op)
   against their FLOPs and against the latency table's prediction
   (radars_tf/latency_table.py, measured and cached on first use): what a FLOPs or
   a latency target buys in training time here.

  python tools/bench_throughput.py --space=large --candidates=8 --batch_size=64
  python tools/bench_throughput.py --tables=genotypes     # table 3 only
"""
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
import radars_tf  # pylint: disable=unused-import  (sets TensorFlow's environment first)
import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from radars_tf import alphas as alphas_lib
from radars_tf import dnas_trainer, genotype, known_genotypes, latency_table
from radars_tf import memory_model, network
from radars_tf import ops, path_sampler, single_path
from radars_tf import supernet
from radars_tf import search_space as ss
from radars_tf import training
from radars_tf.latency_table import network_step, op_step, timed
from radars_tf.training import per_example_loss
# pylint: enable=g-import-not-at-top,wrong-import-position

flags.DEFINE_string("space", "large", "Search space preset or JSON file.")
flags.DEFINE_integer("candidates", 8, "Candidates per layer in the DNAS comparison.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("image_size", 28, "Input height and width.")
flags.DEFINE_integer("channels", 1, "Input channels.")
flags.DEFINE_integer("steps", 10, "Timed steps per measurement.")
flags.DEFINE_integer("paths", 3, "Random children compared in the single_path table.")
flags.DEFINE_integer("seed", 0, "Seed of data, weights and paths.")
flags.DEFINE_list("tables", ["dnas", "single_path", "genotypes"], "Tables to print.")
flags.DEFINE_list("uniform_ops", ["skip", "conv_k1", "conv_k3", "sepconv_k3",
                                  "dilconv_k3", "mbconv_e1_k3", "mbconv_e6_k3",
                                  "maxpool_k3"],
                  "Genotype table: besides the known genotypes, one network per op "
                  "with that op in every layer.")
flags.DEFINE_string("latency_cache_dir", latency_table.DEFAULT_CACHE_DIR,
                    "Genotype table: where the latency table is cached.")
FLAGS = flags.FLAGS


def dnas_table(space, shape, batch, rng):
  sub = ss.Subspace.first(space, FLAGS.candidates)
  net = supernet.Supernet(space, sub, shape, 10)
  x = tf.constant(rng.standard_normal((batch,) + shape), tf.float32)
  y = tf.constant(rng.integers(0, 10, batch), tf.int32)
  it = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
  trainer = dnas_trainer.DnasTrainer(net, alphas_lib.Alphas(space),
                                     tf.distribute.get_strategy(), batch,
                                     dnas_trainer.DnasHParams(), 1000)
  first = timed(lambda: trainer.train_step(it, it), 1, warmup=0)  # trace included
  dnas = timed(lambda: trainer.train_step(it, it), FLAGS.steps)
  weights = tf.nn.softmax(tf.zeros((len(sub.alive), max(len(c) for c in
                                                       space.candidates()))))
  opt = training.sgd(0.01, clip=False)
  opt.build(net.trainable_variables)

  @tf.function
  def mixed_weight_step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(per_example_loss(y, net.mixed_forward(x, weights, True)))
    grads = tape.gradient(loss, net.trainable_variables)
    opt.apply_gradients(zip(grads, net.trainable_variables))
  mixed = timed(mixed_weight_step, FLAGS.steps)

  total = 0.0
  stem = network.stem(space, shape[2])
  total += timed(op_step(stem, x), FLAGS.steps)
  for spec in space.layers(shape[0]):
    h = tf.constant(rng.standard_normal((batch, spec.hw, spec.hw, spec.cin)),
                    tf.float32)
    for i in sub.alive[spec.index]:
      op = ops.OpLayer(spec.candidates[i], spec.cin, spec.cout, spec.stride)
      total += timed(op_step(op, h), FLAGS.steps)
  last = space.layers(shape[0])[-1]
  hw = -(-last.hw // last.stride)
  head_in = tf.constant(rng.standard_normal((batch, hw, hw, last.cout)), tf.float32)
  total += timed(op_step(network.Head(10), head_in), FLAGS.steps)

  # A next round's first step: pruning re-traces the step (one candidate fewer in
  # every layer that has two or more).
  net.apply_subspace(ss.Subspace(tuple(a[1:] if len(a) > 1 else a
                                        for a in sub.alive)))
  trainer.rebuild()
  first_next = timed(lambda: trainer.train_step(it, it), 1, warmup=0)
  next_alive = net.subspace.num_alive()

  print(f"## DNAS supernet step vs its ops standalone ({FLAGS.candidates} "
        f"candidates/layer, {sub.num_alive()} ops, batch {batch})\n")
  print("| measurement | s/step | ratio to the standalone sum |\n|---|---|---|")
  print(f"| sum of every op run standalone (fwd+bwd+update) | {total:.3f} | 1.00 |")
  print(f"| supernet mixed weight step (one fwd+bwd+update) | {mixed:.3f} | "
        f"{mixed / total:.2f} |")
  print(f"| supernet DNAS step (weight step + alpha step: two fwd+bwd) | {dnas:.3f} | "
        f"{dnas / total:.2f} (per pass {dnas / 2 / total:.2f}) |")
  print(f"| first DNAS step of a round (trace and first call included) | {first:.1f} "
        f"| {first / total:.0f} |")
  print(f"| first step after pruning to {next_alive} ops (re-trace) | "
        f"{first_next:.1f} | {first_next / total:.0f} |\n")


def single_path_table(space, shape, batch, rng):
  net = supernet.Supernet(space, ss.Subspace.full(space), shape, 10)
  trainer = single_path.SinglePathTrainer(net, tf.distribute.get_strategy(), batch,
                                          0.05)
  sampler = path_sampler.PathSampler("uniform", 0, FLAGS.seed)
  random_path = lambda: sampler.train_path(net.subspace)
  x = tf.constant(rng.standard_normal((batch,) + shape), tf.float32)
  y = tf.constant(rng.integers(0, 10, batch), tf.int32)
  it = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
  print(f"## single_path step vs the same child as a plain Keras model (batch "
        f"{batch}, full {space.name} supernet)\n")
  print("| child | plain compiled s | plain eager s | single_path eager s | "
        "single_path ops compiled s | ratio eager / plain | ratio ops compiled / "
        "plain |")
  print("|---|---|---|---|---|---|---|")
  ratios = []
  for _ in range(FLAGS.paths):
    path = random_path()
    model = genotype.from_choices(space, path).build(space, shape, 10)
    plain = timed(network_step(model, x, y), FLAGS.steps)
    plain_eager = timed(network_step(model, x, y, compiled=False), FLAGS.steps)
    trainer.compiled = net.compile_ops = False
    sp_eager = timed(lambda: trainer.train_path(it, path), FLAGS.steps)
    trainer.compiled = net.compile_ops = True
    sp = timed(lambda: trainer.train_path(it, path), FLAGS.steps)
    ratios.append((sp_eager / plain, sp / plain))
    print(f"| {', '.join(genotype.from_choices(space, path).ops[:3])}, ... | "
          f"{plain:.3f} | {plain_eager:.3f} | {sp_eager:.3f} | {sp:.3f} | "
          f"{sp_eager / plain:.2f} | {sp / plain:.2f} |", flush=True)
  eager, compiled = np.mean(ratios, axis=0)
  print(f"\nmean ratio single_path / plain child: eager {eager:.2f}, ops compiled "
        f"{compiled:.2f} (target 1.25)\n")

  # Search-time conditions: a new random path every step, traces included.
  for on in (False, True):
    trainer.compiled = net.compile_ops = on
    start = time.perf_counter()
    trainer.train(it, 4 * FLAGS.steps, random_path)
    first = (time.perf_counter() - start) / (4 * FLAGS.steps)
    later = timed(lambda: trainer.train(it, 1, random_path), 4 * FLAGS.steps,
                  warmup=0)
    print(f"random paths, ops {'compiled' if on else 'eager'}: first "
          f"{4 * FLAGS.steps} steps {first:.3f} s/step, next {4 * FLAGS.steps} "
          f"{later:.3f} s/step")


def genotype_table(space, shape, batch, rng):
  del rng
  genos = {name: genotype.Genotype(s, ops_) for name, (s, ops_)
           in known_genotypes.KNOWN.items() if s == space.name}
  for op in FLAGS.uniform_ops:
    if all(op in c for c in space.candidates()):
      genos[f"{op} in every layer"] = genotype.Genotype(
          space.name, (op,) * space.num_layers)
  table = latency_table.load_or_measure(space, shape, 10, batch, FLAGS.latency_cache_dir,
                                        steps=FLAGS.steps)
  print(f"## Compiled train step of whole genotypes against their FLOPs and against "
        f"the latency table's prediction (batch {batch}, constant batch: no input "
        f"pipeline; table anchored on {', '.join(sorted(set(table.reference)))} "
        f"networks at {table.reference_ms:.0f} ms)\n")
  print("| genotype | MFLOPs (forward, per example) | params | ms/step | "
        "ms/step per forward GFLOP of the batch | predicted ms/step | "
        "measured / predicted |")
  print("|---|---|---|---|---|---|---|")
  rows = []
  for name, geno in genos.items():
    model = geno.build(space, shape, 10)
    mflops = 2 * memory_model.model_macs(space, geno.ops, shape, 10) / 1e6
    ms = latency_table.measure_model_ms(model, shape, 10, batch, FLAGS.steps)
    predicted = table.predict_ms(geno.choices(space))
    rows.append((mflops, predicted, ms))
    print(f"| {name} | {mflops:.1f} | {model.count_params():,} | {ms:.0f} | "
          f"{ms / (mflops * batch / 1000):.1f} | {predicted:.0f} | "
          f"{ms / predicted:.2f} |", flush=True)
  mflops, predicted, ms = np.array(rows).T
  print(f"\nPearson r of ms/step against MFLOPs {np.corrcoef(mflops, ms)[0, 1]:.2f}, "
        f"against the latency table {np.corrcoef(predicted, ms)[0, 1]:.2f}; "
        f"measured / predicted {np.min(ms / predicted):.2f}-"
        f"{np.max(ms / predicted):.2f}\n")


def main(argv):
  del argv
  logging.set_verbosity(logging.ERROR)
  tf.get_logger().setLevel("ERROR")
  space = ss.load(FLAGS.space)
  shape = (FLAGS.image_size, FLAGS.image_size, FLAGS.channels)
  rng = np.random.default_rng(FLAGS.seed)
  tf.keras.utils.set_random_seed(FLAGS.seed)
  print(f"space {space.name}, input {shape}, {platform.machine()} {os.cpu_count()} "
        f"cores, TF {tf.__version__}\n")
  tables = {"dnas": dnas_table, "single_path": single_path_table,
            "genotypes": genotype_table}
  for name in FLAGS.tables:
    if name not in tables:
      sys.exit(f"bench_throughput: unknown table {name}; choose from "
               f"{', '.join(tables)}")
  for name in FLAGS.tables:
    tables[name](space, shape, FLAGS.batch_size, rng)


if __name__ == "__main__":
  app.run(main)
