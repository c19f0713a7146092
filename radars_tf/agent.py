"""The RL controller: a TF-Agents REINFORCE agent that samples architectures.

An episode is one architecture: step t picks the op of searchable layer t. The
observation carries which layer is being decided and that layer's alive-candidate
mask; the actor network masks pruned candidates out of its logits, so a pruned op
is never sampled (TF-Agents' ReinforceAgent takes no action-constraint splitter).
The reward, given at the last step, comes from a score function (single-path
accuracy with shared supernet weights, or a child trained from scratch).
"""
import contextlib
import io
from typing import Callable, List, Sequence, Tuple
import warnings

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

# tf_agents imports gym, which prints a deprecation notice on import; radars_tf
# does not use gym, so the notice is only noise for our users.
with contextlib.redirect_stderr(io.StringIO()):
  import gym  # pylint: disable=unused-import
# TF-Agents' autograph-converted code compares with `is ()`.
warnings.filterwarnings("ignore", r"\"is( not)?\" with a literal", SyntaxWarning)

from tf_agents.agents.reinforce import reinforce_agent  # pylint: disable=g-import-not-at-top
from tf_agents.drivers import py_driver
from tf_agents.environments import py_environment
from tf_agents.networks import network
from tf_agents.networks import utils as network_utils
from tf_agents.policies import py_tf_eager_policy
from tf_agents.replay_buffers import tf_uniform_replay_buffer
from tf_agents.specs import array_spec
from tf_agents.specs import distribution_spec
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts
from tf_agents.utils import nest_utils

ScoreFn = Callable[[Sequence[int]], float]


class ArchitectureEnv(py_environment.PyEnvironment):
  """Samples one architecture per episode, one layer per step."""

  def __init__(self, mask: np.ndarray, score_fn: ScoreFn):
    super().__init__(handle_auto_reset=True)
    self._mask = np.asarray(mask, np.float32)
    self.score_fn = score_fn
    num_layers, num_candidates = self._mask.shape
    self._observation_spec = {
        "layer": array_spec.BoundedArraySpec((num_layers,), np.float32, 0.0, 1.0,
                                             name="layer"),
        "mask": array_spec.BoundedArraySpec((num_candidates,), np.float32, 0.0, 1.0,
                                            name="mask"),
    }
    self._action_spec = array_spec.BoundedArraySpec(
        (), np.int32, 0, num_candidates - 1, name="op")
    self._choices: List[int] = []
    self.samples: List[Tuple[Tuple[int, ...], float]] = []

  @property
  def mask(self) -> np.ndarray:
    return self._mask

  def set_mask(self, mask: np.ndarray) -> None:
    self._mask = np.asarray(mask, np.float32)

  def observation_spec(self):
    return self._observation_spec

  def action_spec(self):
    return self._action_spec

  def _observation(self, layer: int):
    one_hot = np.zeros(self._mask.shape[0], np.float32)
    one_hot[layer] = 1.0
    return {"layer": one_hot, "mask": self._mask[layer].copy()}

  def _reset(self):
    self._choices = []
    return ts.restart(self._observation(0))

  def _step(self, action):
    layer = len(self._choices)
    action = int(action)
    if not self._mask[layer, action]:
      raise ValueError(f"pruned candidate {action} of layer {layer} was sampled")
    self._choices.append(action)
    if len(self._choices) < self._mask.shape[0]:
      return ts.transition(self._observation(layer + 1), np.float32(0.0))
    choices = tuple(self._choices)
    reward = float(self.score_fn(choices))
    self.samples.append((choices, reward))
    return ts.termination(self._observation(layer), np.float32(reward))


class ArchitecturePolicyNetwork(network.DistributionNetwork):
  """A categorical distribution per layer over its candidates, pruned ones masked.

  The logits are a [layers, candidates] table (independent decisions, as in
  TuNAS), read through the one-hot layer of the observation.
  """

  def __init__(self, observation_spec, action_spec, name="ArchitecturePolicy"):
    num_candidates = int(action_spec.maximum - action_spec.minimum + 1)
    output_spec = distribution_spec.DistributionSpec(
        tfp.distributions.Categorical,
        {"logits": tensor_spec.TensorSpec((num_candidates,), tf.float32)},
        sample_spec=action_spec, dtype=action_spec.dtype)
    super().__init__(input_tensor_spec=observation_spec, state_spec=(),
                     output_spec=output_spec, name=name)
    self._action_spec = action_spec
    self._table = tf.keras.layers.Dense(num_candidates, use_bias=False,
                                        kernel_initializer="zeros", name="logits")

  def call(self, observations, step_type=None, network_state=(), training=False):
    del step_type, training
    outer_rank = nest_utils.get_outer_rank(observations, self.input_tensor_spec)
    squash = network_utils.BatchSquash(outer_rank)
    layer = squash.flatten(observations["layer"])
    mask = squash.flatten(observations["mask"])
    logits = tf.where(mask > 0, self._table(layer), tf.float32.min)
    dist = tfp.distributions.Categorical(logits=squash.unflatten(logits),
                                         dtype=self._action_spec.dtype)
    return dist, network_state

  def probs(self, mask: np.ndarray) -> np.ndarray:
    """[layers, candidates] sampling probabilities under `mask`."""
    logits = tf.where(mask > 0, self._table.kernel, -1e9)
    return tf.nn.softmax(logits, axis=-1).numpy()


class ArchitectureAgent:
  """REINFORCE (TF-Agents) over architectures, with returns normalized per batch
  (a baseline) and entropy regularization."""

  def __init__(self, mask: np.ndarray, score_fn: ScoreFn, learning_rate: float,
               entropy_weight: float, episodes_per_iteration: int):
    self.env = ArchitectureEnv(mask, score_fn)
    time_step_spec = tensor_spec.from_spec(self.env.time_step_spec())
    action_spec = tensor_spec.from_spec(self.env.action_spec())
    self.network = ArchitecturePolicyNetwork(time_step_spec.observation, action_spec)
    self.optimizer = tf.keras.optimizers.Adam(learning_rate)
    self.train_step = tf.Variable(0, dtype=tf.int64, name="agent_train_step")
    self.network.create_variables()
    self.optimizer.build(self.network.trainable_variables)   # restorable slots
    self.agent = reinforce_agent.ReinforceAgent(
        time_step_spec, action_spec, actor_network=self.network,
        optimizer=self.optimizer, normalize_returns=True,
        entropy_regularization=entropy_weight, gamma=1.0,
        train_step_counter=self.train_step)
    self.agent.initialize()
    self.buffer, self.policy = None, None      # set_episodes, reset_sampling
    self._train = tf.function(self.agent.train, reduce_retracing=True)
    self.set_episodes(episodes_per_iteration)
    self.reset_sampling()

  def reset_sampling(self) -> None:
    """A fresh compiled policy: its random kernel restarts from the global seed, so
    a run resumed after reseeding samples what the uninterrupted run sampled."""
    self.policy = py_tf_eager_policy.PyTFEagerPolicy(self.agent.collect_policy,
                                                     use_tf_function=True)
    self._drive()

  def set_episodes(self, episodes: int) -> None:
    """Episodes each later iteration samples; the policy (and so what it samples
    next) is kept."""
    length = episodes * (self.env.mask.shape[0] + 1) + 1
    if self.buffer is None or self.buffer.capacity < length:
      self.buffer = tf_uniform_replay_buffer.TFUniformReplayBuffer(
          self.agent.collect_data_spec, batch_size=1, max_length=length)
    self.episodes = episodes
    if self.policy is not None:
      self._drive()

  def _drive(self) -> None:
    self.driver = py_driver.PyDriver(
        self.env, self.policy,
        observers=[lambda t: self.buffer.add_batch(nest_utils.batch_nested_array(t))],
        max_episodes=self.episodes)

  def variables_to_save(self) -> dict:
    return {"agent_network": self.network, "agent_optimizer": self.optimizer,
            "agent_train_step": self.train_step}

  def set_mask(self, mask: np.ndarray) -> None:
    self.env.set_mask(mask)

  def probs(self) -> np.ndarray:
    return self.network.probs(self.env.mask)

  def abandon_iteration(self) -> None:
    """Drops what an iteration cut short collected (no update from it)."""
    self.buffer.clear()

  def iteration(self) -> Tuple[List[Tuple[Tuple[int, ...], float]], float]:
    """Samples `episodes_per_iteration` architectures, scores them, updates the
    policy. Returns the (choices, reward) samples and the agent's loss."""
    start = len(self.env.samples)
    self.driver.run(self.env.reset())
    loss = self._train(self.buffer.gather_all()).loss
    self.buffer.clear()
    return self.env.samples[start:], float(loss)
