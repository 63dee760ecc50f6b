"""The shared on-policy loop: rollout -> bonus hook -> advantages -> ``update()``.

Every agent (PPO, TRPO, ...) subclasses `OnPolicyAgent` and implements `update` only. The
loop owns the order of operations, so an intrinsic reward always reaches the advantages
(peers that add it after GAE silently train without it): the `Shaping` hook runs on the raw
rollout before any return is computed. What the loop needs from outside the agent (the
shaping hook, a step-info reader, a coverage tracker) it knows only through the protocols
in `agents.hooks`; the speed tricks (NumPy acting, NumPy GAE) live in `agents.fast`, the
advantages (GAE, one or two value heads) in `agents.advantages`, the settings and the flat
update batch in `agents.config`.

This module stays one piece (about 500 lines): the rollout's buffers, the acting that fills
them, the warm-up and the iteration that hands them to ``update`` all read and write the
same buffers (on the CPU, NumPy views of the tensors; on a GPU, staged host copies), so a
split would pass that state around as a second object for no reader's gain.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.advantages import advantages_and_returns
from agents.config import OnPolicyConfig, UpdateBatch
from agents.fast import NumpyPolicy
from agents.hooks import Coverage, Shaping, StepInfoReader, reward_is_score
from agents.networks import Distribution, Policy, ValueFunction, encoder, run_layers
from bonuses.base import Transitions

__all__ = [
    "EVAL_CHUNK_ELEMENTS",
    "OnPolicyAgent",
    "OnPolicyConfig",
    "UpdateBatch",
    "with_final_obs",
]


def with_final_obs(next_obs: np.ndarray, done: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
    """``next_obs`` with each ended episode's true final observation (``info["final_obs"]``,
    same-step autoreset) in its row; a copy only when an episode ended."""
    if not done.any():
        return next_obs
    out = next_obs.copy()
    for i in np.flatnonzero(done):
        out[i] = infos["final_obs"][i]
    return out


#: Rows per batched forward pass over a rollout, as input elements (about 32 MB of float32).
EVAL_CHUNK_ELEMENTS = 1 << 23


class OnPolicyAgent(ABC):
    """Collects rollouts from a vector env, applies the bonus hook, computes advantages and
    calls `update`. Subclasses set ``config_cls`` and implement `update` (and optimiser state
    via `extra_state`/`load_extra_state`)."""

    config_cls: ClassVar[type[OnPolicyConfig]] = OnPolicyConfig
    description: ClassVar[str] = ""
    #: Whether policy and value may share a CNN trunk (PPO yes; TRPO's step must not move V).
    share_cnn_trunk: ClassVar[bool] = False
    #: Stage the rollout through host arrays even on the CPU (the GPU code path, for tests).
    _force_staging: ClassVar[bool] = False
    #: The last rollout may be shorter than ``num_steps`` (see `rollout_length`): PPO's and
    #: TRPO's updates take any batch size. An agent whose update needs full rollouts sets
    #: False and overshoots the budget by up to one rollout instead.
    cuts_last_rollout: ClassVar[bool] = True

    def __init__(
        self,
        envs: gym.vector.VectorEnv,
        shaper: Shaping,
        config: OnPolicyConfig,
        *,
        seed: int = 0,
        total_steps: int | None = None,
        coverage: Coverage | None = None,
        read_step: StepInfoReader = reward_is_score,
        device: str = "cpu",
    ) -> None:
        self.envs = envs
        self.shaper = shaper
        self.bonus = shaper.bonus
        self.config = config
        self.device = torch.device(device)
        #: The step budget (schedules' progress); with none given, rollouts are never cut.
        self.total_steps = 1 if total_steps is None else total_steps
        self._budget = total_steps
        self.coverage = coverage
        self.read_step = read_step
        self.obs_space = envs.single_observation_space
        self.act_space = envs.single_action_space
        self.discrete = isinstance(self.act_space, gym.spaces.Discrete)
        self.heads = 2 if config.two_value_heads else 1
        self.policy, self.value = self.build_networks()
        #: Policy and value share a (CNN) trunk: run it once for both.
        self.shared_trunk = self.policy.trunk is self.value.trunk
        # Recomputing log-probabilities after the rollout costs a second policy pass: cheap
        # for an MLP, not for a CNN, where the per-step distribution is used instead.
        self._batched_logprobs = not (self.shared_trunk or len(self.obs_space.shape or ()) == 3)
        self.env_steps = 0
        self.iteration = 0
        n, t = envs.num_envs, config.num_steps
        #: (T, N) int64 keys of the full state after each step, when the task reports
        #: ``info["state_key"]`` (MiniGrid) and the step reader passes per-env info; handed
        #: to the bonus as ``Transitions.state_keys`` (exact episodic counts). Allocated by
        #: `_alloc` with the other buffers once the reset showed that the task has them.
        self._host_state_keys: torch.Tensor | None = None
        obs, reset_info = envs.reset(seed=seed)
        if "state_key" in reset_info:
            self._host_state_keys = torch.zeros(0, dtype=torch.int64)
        self._alloc(t, n)
        self.next_obs = self.as_obs(obs)
        self._ep_return = np.zeros(n)
        self._ep_length = np.zeros(n, dtype=np.int64)
        self.finished: list[tuple[float, int]] = []
        self.timers = {"time_rollout_s": 0.0, "time_bonus_s": 0.0, "time_update_s": 0.0}
        if not self.discrete:
            assert isinstance(self.act_space, gym.spaces.Box)
            self._act_low = self.act_space.low.astype(np.float32)
            self._act_high = self.act_space.high.astype(np.float32)

    # networks -------------------------------------------------------------------------

    def build_networks(self) -> tuple[Policy, ValueFunction]:
        cfg = self.config
        trunk, dim = None, 0
        is_image = isinstance(self.obs_space, gym.spaces.Box) and len(self.obs_space.shape) == 3
        if self.share_cnn_trunk and is_image:
            trunk, dim = encoder(self.obs_space, cfg.cnn, cfg.grid_cnn)
        policy = Policy(
            self.obs_space,
            self.act_space,
            cfg.policy_hidden,
            cfg.activation,
            cfg.cnn,
            cfg.init_std,
            trunk,
            dim,
            cfg.grid_cnn,
            cfg.policy_head_gain,
        )
        value = ValueFunction(
            self.obs_space,
            cfg.value_hidden,
            cfg.value_activation,
            self.heads,
            cfg.cnn,
            trunk,
            dim,
            cfg.grid_cnn,
        )
        return policy.to(self.device), value.to(self.device)

    # rollout --------------------------------------------------------------------------

    def _alloc(self, t: int, n: int) -> None:
        """Rollout buffers on the agent's device, and the host arrays the env writes into.

        On the CPU they are one and the same memory (NumPy views of the tensors: the env's
        arrays go straight in, with no tensor built per step). Off the CPU the rollout is
        *staged*: the env writes pinned host arrays; each step's observation row is copied to
        the device once (the policy acts on it there) and the rest (rewards, episode ends,
        true next observations) once per rollout, so no step waits on the device beyond the
        action it must hand to the env.
        """
        obs_shape = self.obs_space.shape or ()
        obs_dtype = torch.uint8 if self.obs_space.dtype == np.uint8 else torch.float32
        if isinstance(self.obs_space, gym.spaces.Discrete):
            obs_dtype = torch.int64
        act_shape = () if self.discrete else tuple(self.act_space.shape or ())
        act_dtype = torch.int64 if self.discrete else torch.float32
        self.staged = self.device.type != "cpu" or self._force_staging
        pin = self.staged and self.device.type == "cuda"

        def host(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.zeros(shape, dtype=dtype, pin_memory=pin)

        def on_device(buffer: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(buffer, device=self.device) if self.staged else buffer

        h_obs, h_next = host((t, n, *obs_shape), obs_dtype), host((t, n, *obs_shape), obs_dtype)
        h_actions = host((t, n, *act_shape), act_dtype)
        h_rewards, h_raw = host((t, n)), host((t, n))
        h_term, h_trunc = host((t, n), torch.bool), host((t, n), torch.bool)
        self.buf_obs, self.buf_next_obs = on_device(h_obs), on_device(h_next)
        self.buf_actions = on_device(h_actions)
        self.buf_logprobs = torch.zeros((t, n), device=self.device)
        self.buf_values = torch.zeros((t, n, self.heads), device=self.device)
        self.buf_rewards, self.buf_raw_rewards = on_device(h_rewards), on_device(h_raw)
        self.buf_terminated, self.buf_truncated = on_device(h_term), on_device(h_trunc)
        #: (host, device) pairs copied once per rollout when staged.
        self._staging = [
            (h_next, self.buf_next_obs),
            (h_rewards, self.buf_rewards),
            (h_raw, self.buf_raw_rewards),
            (h_term, self.buf_terminated),
            (h_trunc, self.buf_truncated),
        ]
        self._host_obs = h_obs
        # NumPy views of the host arrays (the conversion is the same cast as `as_obs`).
        self._np_obs = h_obs.numpy()
        self._np_actions = h_actions.numpy()
        self._np_next_obs = h_next.numpy()
        self._np_rewards = h_rewards.numpy()
        self._np_raw_rewards = h_raw.numpy()
        self._np_terminated = h_term.numpy()
        self._np_truncated = h_trunc.numpy()
        self._last_obs = host((n, *obs_shape), obs_dtype)
        if self._host_state_keys is not None:  # the task reports state keys
            self._host_state_keys = host((t, n), torch.int64)
            self._np_state_keys = self._host_state_keys.numpy()

    def as_obs(self, obs: np.ndarray) -> torch.Tensor:
        """Env observations as a tensor of the buffer's dtype on the agent's device (MuJoCo
        returns float64)."""
        return torch.as_tensor(obs).to(device=self.device, dtype=self.buf_obs.dtype)

    def env_action(self, actions: torch.Tensor | np.ndarray) -> np.ndarray:
        """Policy output -> what the env accepts (Gaussian samples are clipped to bounds; the
        unclipped sample is kept for the log-probability). A device tensor is copied to the
        host here: the one wait on the device per step, since the env needs the action."""
        if isinstance(actions, torch.Tensor):
            actions = actions.cpu().numpy()
        if self.discrete:
            return actions
        return np.clip(actions, self._act_low, self._act_high)

    def rollout_length(self) -> int:
        """Vector steps of the next rollout: ``num_steps``, except the last, which is cut to
        the steps left in the budget (rounded up to whole vector steps, so training stops
        within ``num_envs - 1`` steps of it) when `cuts_last_rollout`; otherwise training
        rounds up to whole rollouts of ``num_steps x num_envs``. Only with a budget
        (``total_steps``) given."""
        full = self.config.num_steps
        if not self.cuts_last_rollout or self._budget is None:
            return full
        left = self._budget - self.env_steps
        return max(1, min(full, -(-left // self.envs.num_envs)))

    @torch.no_grad()
    def collect_rollout(self) -> Transitions:
        """Step the vector env `rollout_length` times with the current policy.

        Per step only what acting needs runs: the policy's forward pass and the sample (with
        a shared CNN trunk also the value head and the log-probability, which then come for
        free; a flat MLP policy acts through its NumPy mirror, see `NumpyPolicy`).
        Observations go straight from the env into the buffers; what the steps left out (MLP
        log-probabilities, values of a separate value net) is computed afterwards in batched
        passes: the networks do not change during a rollout, so the numbers are the same.
        """
        start = time.perf_counter()
        num_steps = self.rollout_length()
        if num_steps != self.buf_obs.shape[0]:  # the last rollout, cut to fit the budget
            self._alloc(num_steps, self.envs.num_envs)
        np_obs, np_next = self._np_obs, self._np_next_obs
        self.buf_obs[0] = self.next_obs
        finals: list[tuple[int, int, Any]] = []
        mirror = self._numpy_mirror()
        if mirror is not None:
            noise = mirror.noise(num_steps, self.envs.num_envs)
        for t in range(num_steps):
            if mirror is not None:
                actions = mirror.sample(np_obs[t], noise[t])
                self._np_actions[t] = actions
                env_actions = self.env_action(actions)
            else:
                env_actions = self._torch_step(t)
            next_obs, reward, terminated, truncated, infos = self.envs.step(env_actions)
            # The next step's input goes straight into the buffer row it is read from.
            if t + 1 < num_steps:
                np_obs[t + 1] = next_obs
                if self.staged:
                    self.buf_obs[t + 1].copy_(self._host_obs[t + 1], non_blocking=True)
            else:
                self._last_obs.numpy()[:] = next_obs
            self._record_step(t, next_obs, reward, terminated, truncated, infos, finals)
        # next_obs[t] is obs[t + 1], except at episode ends: there the true final observation.
        np_next[:-1] = np_obs[1:]
        np_next[-1] = self._last_obs.numpy()
        for step, env, final in finals:
            np_next[step, env] = final
        if self.staged:
            for host, device in self._staging:
                device.copy_(host, non_blocking=True)
            self.next_obs = self._last_obs.to(self.device, non_blocking=True)
        else:
            self.next_obs = self._last_obs  # copied into buf_obs[0] before it is overwritten
        self._evaluate_rollout()
        self.env_steps += num_steps * self.envs.num_envs
        self.timers["time_rollout_s"] += time.perf_counter() - start
        return Transitions(
            obs=self.buf_obs,
            actions=self.buf_actions,
            next_obs=self.buf_next_obs,
            ext_rewards=self.buf_raw_rewards,
            terminated=self.buf_terminated,
            truncated=self.buf_truncated,
            # the host keys on the run's device (on the CPU: the host buffer itself)
            state_keys=None
            if self._host_state_keys is None
            else self._host_state_keys.to(self.device),
        )

    def _record_step(
        self,
        t: int,
        next_obs: np.ndarray,
        reward: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        infos: dict[str, Any],
        finals: list[tuple[int, int, Any]],
    ) -> None:
        """Store what step ``t`` returned besides the next observation: rewards and the game
        score, episode ends (with their true final observations), episode statistics and
        coverage."""
        done = terminated | truncated
        any_done = done.any()
        if any_done:
            final_obs = infos["final_obs"]
            finals.extend((t, int(i), final_obs[i]) for i in np.flatnonzero(done))
        keys_wanted = self._host_state_keys is not None
        raw, step_info = self.read_step(reward, infos, self.coverage is not None or keys_wanted)
        if keys_wanted:
            keys = step_info.get("state_key") if step_info else None
            if keys is None:  # a reader without per-env info: no keys rather than stale ones
                self._host_state_keys = None
            else:
                self._np_state_keys[t] = keys
        self._np_rewards[t] = reward
        self._np_raw_rewards[t] = raw
        self._np_terminated[t] = terminated
        self._np_truncated[t] = truncated
        self._track_episodes(raw, done, any_done)
        if self.coverage is not None:
            self.coverage.update(with_final_obs(next_obs, done, infos), step_info or {})

    def _numpy_mirror(self) -> NumpyPolicy | None:
        """The policy mirrored in NumPy for acting, where it can be (see `NumpyPolicy`)."""
        if self.staged or not self._batched_logprobs or self.buf_obs.dtype != torch.float32:
            return None
        return NumpyPolicy.of(self.policy)

    def _torch_step(self, t: int) -> np.ndarray:
        """Act on row ``t`` of the buffers with the torch networks; returns the env's actions."""
        if self.shared_trunk:
            dist, self.buf_values[t] = self.dist_and_value(self.buf_obs[t])
        else:
            dist = self.policy.forward(self.buf_obs[t])  # no hooks: skip __call__
        actions = dist.sample()
        self.buf_actions[t] = actions
        if not self._batched_logprobs:
            self.buf_logprobs[t] = dist.log_prob(actions)
        return self.env_action(actions)

    def _evaluate_rollout(self) -> None:
        """Fill what the steps left out of ``buf_logprobs`` and ``buf_values`` with batched
        passes over the rollout."""
        if self.shared_trunk and not self._batched_logprobs:
            return
        obs, actions = self.buf_obs.flatten(0, 1), self.buf_actions.flatten(0, 1)
        logprobs, values = self.buf_logprobs.view(-1), self.buf_values.view(-1, self.heads)
        per_row = max(1, obs[0].numel())
        chunk = max(1, EVAL_CHUNK_ELEMENTS // per_row)
        for lo in range(0, obs.shape[0], chunk):
            hi = lo + chunk
            if self._batched_logprobs:
                logprobs[lo:hi] = self.policy(obs[lo:hi]).log_prob(actions[lo:hi])
            if not self.shared_trunk:
                values[lo:hi] = self.value(obs[lo:hi])

    def dist_and_value(self, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        """Policy distribution and values, the shared trunk (if any) run once."""
        if self.shared_trunk:
            features = run_layers(self.policy.trunk, obs)
            return self.policy.from_features(features), self.value.from_features(features)
        return self.policy(obs), self.value(obs)

    def _track_episodes(self, raw: np.ndarray, done: np.ndarray, any_done: bool) -> None:
        self._ep_return += raw
        self._ep_length += 1
        if not any_done:
            return
        for i in np.flatnonzero(done):
            self.finished.append((float(self._ep_return[i]), int(self._ep_length[i])))
            self._ep_return[i] = 0.0
            self._ep_length[i] = 0

    @torch.no_grad()
    def warm_up(self, steps_per_env: int) -> None:
        """Step every env ``steps_per_env`` times with uniformly random actions and hand the
        transitions, one rollout's length at a time, to the bonus's ``warm_up`` (RND fits its
        observation statistics on them: Burda et al. 2018, ``collect_random_statistics`` in
        the release). The steps count in ``env_steps``; the envs are then reset, so training
        starts on fresh episodes and no random-action episode is logged or covered."""
        start = time.perf_counter()
        n = self.envs.num_envs
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))
        obs = self.next_obs.cpu().numpy()
        done_steps = 0
        while done_steps < steps_per_env:
            chunk = min(self.config.num_steps, steps_per_env - done_steps)
            rows: dict[str, list[Any]] = {k: [] for k in ("obs", "act", "next", "rew", "te", "tr")}
            for _ in range(chunk):
                actions = self._random_actions(rng, n)
                next_obs, reward, terminated, truncated, infos = self.envs.step(actions)
                true_next = with_final_obs(next_obs, terminated | truncated, infos)
                for key, value in zip(
                    rows, (obs, actions, true_next, reward, terminated, truncated), strict=True
                ):
                    rows[key].append(value)
                obs = next_obs
            self.bonus.warm_up(
                Transitions(
                    obs=self.as_obs(np.stack(rows["obs"])),
                    actions=torch.as_tensor(np.stack(rows["act"])),
                    next_obs=self.as_obs(np.stack(rows["next"])),
                    ext_rewards=torch.as_tensor(np.stack(rows["rew"]), dtype=torch.float32),
                    terminated=torch.as_tensor(np.stack(rows["te"])),
                    truncated=torch.as_tensor(np.stack(rows["tr"])),
                ).to(self.device)
            )
            done_steps += chunk
        self.env_steps += steps_per_env * n
        reset_obs, _ = self.envs.reset(seed=int(rng.integers(0, 2**31 - 1)))
        self.next_obs = self.as_obs(reset_obs)
        self._ep_return[:] = 0.0
        self._ep_length[:] = 0
        self.timers["time_rollout_s"] += time.perf_counter() - start

    def _random_actions(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """One uniformly random action per env (Gaussian where a Box bound is infinite)."""
        if self.discrete:
            return rng.integers(0, int(self.act_space.n), size=n)  # type: ignore[attr-defined]
        shape = (n, *self._act_low.shape)
        finite = np.isfinite(self._act_low) & np.isfinite(self._act_high)
        low, high = np.where(finite, self._act_low, 0.0), np.where(finite, self._act_high, 1.0)
        uniform = rng.uniform(low, high, size=shape)
        return np.where(finite, uniform, rng.standard_normal(shape)).astype(np.float32)

    # advantages -----------------------------------------------------------------------

    @torch.no_grad()
    def compute_advantages(
        self, batch: Transitions, int_rewards: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(advantages (T, N), returns (T, N, heads)) for the rollout in the buffers."""
        last_values = self.value(self.next_obs)
        return advantages_and_returns(
            self.config,
            batch,
            self.buf_rewards,
            int_rewards,
            self.buf_values,
            last_values,
            self.value,
            episodic=self.bonus.episodic,
        )

    # one iteration --------------------------------------------------------------------

    def train_iteration(self) -> dict[str, float]:
        """Rollout, bonus hook, advantages, update; returns this iteration's metrics."""
        batch = self.collect_rollout()
        start = time.perf_counter()
        int_rewards, metrics = self.shaper(batch, self.progress)
        self.timers["time_bonus_s"] += time.perf_counter() - start
        start = time.perf_counter()
        advantages, returns = self.compute_advantages(batch, int_rewards)
        flat = UpdateBatch(
            obs=self.buf_obs.flatten(0, 1),
            actions=self.buf_actions.flatten(0, 1),
            logprobs=self.buf_logprobs.flatten(0, 1),
            advantages=advantages.flatten(0, 1),
            returns=returns.flatten(0, 1),
            values=self.buf_values.flatten(0, 1),
        )
        metrics.update(self.update(flat))
        self.timers["time_update_s"] += time.perf_counter() - start
        self.iteration += 1
        return metrics

    @property
    def progress(self) -> float:
        """Share of the step budget used so far, in [0, 1]."""
        return min(1.0, self.env_steps / max(1, self.total_steps))

    @abstractmethod
    def update(self, batch: UpdateBatch) -> dict[str, float]:
        """Improve policy and value on one batch; return metrics (losses, KL, ...)."""

    def normalized_advantages(self, adv: torch.Tensor) -> torch.Tensor:
        """Standardised along the last axis (the batch, or each row of minibatches)."""
        if not self.config.norm_adv or adv.shape[-1] < 2:
            return adv
        return (adv - adv.mean(-1, keepdim=True)) / (adv.std(-1, keepdim=True) + 1e-8)

    # acting and state -----------------------------------------------------------------

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        dist: Distribution = self.policy(self.as_obs(obs))
        return self.env_action(dist.mode() if deterministic else dist.sample())

    def extra_state(self) -> dict[str, Any]:
        """Optimiser state and anything else a subclass needs to resume."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "value": self.value.state_dict(),
            "bonus": self.bonus.state_dict(),
            "shaper": self.shaper.state_dict(),
            "env_steps": self.env_steps,
            "iteration": self.iteration,
            "timers": dict(self.timers),
            "extra": self.extra_state(),
            "coverage": getattr(self.coverage, "__dict__", None),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])
        self.bonus.load_state_dict(state["bonus"])
        self.shaper.load_state_dict(state["shaper"])
        self.env_steps = state["env_steps"]
        self.iteration = state["iteration"]
        self.timers.update(state["timers"])
        self.load_extra_state(state["extra"])
        if self.coverage is not None and state.get("coverage") is not None:
            self.coverage.__dict__.update(state["coverage"])

    def parameters(self) -> list[nn.Parameter]:
        """Policy and value parameters, a shared trunk counted once."""
        return list(nn.ModuleList([self.policy, self.value]).parameters())
