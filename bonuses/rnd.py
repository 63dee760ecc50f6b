"""Random Network Distillation (Burda et al. 2018, "Exploration by Random Network
Distillation", ICLR 2019).

A fixed, randomly initialised target network f embeds the next observation; a predictor
f_hat is trained to match it. The bonus is the prediction error on s_{t+1}, computed (as in
the released code) as the mean over the output features of (f_hat(x) - f(x))^2, where x is
the observation normalised by running per-element mean and std and clipped to [-5, 5].

- Observation statistics change only in `update` (`compute` is pure), so a rollout is scored
  with the statistics from before it, as in the released code.
- Warm-up: the paper initialises the statistics by stepping a random agent before training
  (released code: ``collect_random_statistics(num_timesteps=128*50)`` in run_atari.py,
  6,400 steps of every env). Its recipe sets ``run.warmup_steps`` to that: the agent then
  steps that many uniformly random actions per env before training (counted in the budget)
  and hands them to `warm_up`; the harness cuts a recipe's warm-up to a tenth of a smaller
  budget, with a warning. Without it
  (``--recipe shared``) the first ``warmup_updates`` calls to `update` only fit the
  statistics on the agent's own rollouts and `compute` returns zeros until they end.
- Update schedule, as released and per env step (issue 29): every transition trains the
  predictor (``update_proportion`` 1.0: run_atari.py
  ``--proportion_of_exp_used_for_predictor_update`` default 1.0; CleanRL's
  ppo_rnd_envpool.py uses 0.25 with 128 envs, the value this suite had before), ``epochs``
  (4) passes over each rollout in minibatches of ``minibatch_size`` transitions: the
  release's 128 steps x 32 envs (``--num_env`` 32) in 4 minibatches (``nminibatches``) are
  1,024, so the predictor takes 4 Adam steps per 1,024 env steps whatever the number of
  envs. ``num_minibatches`` > 0 instead fixes the count per rollout (the former schedule,
  which old runs' config.json files record).
- ``obs_normalize = False`` drops the statistics and the warm-up: the networks read uint8
  images / 255 (vector observations as they are), as rllte's RND does with ``obs_rms=False``,
  the setting RLeXplore's MiniGrid runs pass (src/utils.py ``--obs_rms`` default False;
  BaseReward.normalize). Their Table 8 RND figure (DoorKey-8x8: 0.0) is that setting's.
- Images (C x H x W, stacked frames): only the newest frame is used, as in the paper.
  Vector and discrete (one-hot) observations use MLPs; the paper has no defaults for them.
- Networks as released (policies/cnn_policy_param_matched.py): orthogonal weights of gain
  sqrt 2 and zero biases on every layer, leaky ReLUs of slope 0.2 (``tf.nn.leaky_relu``'s
  default; ``leaky_slope``: runs before 2026-12-07 had PyTorch's 0.01). At an episode end
  the networks read the true final observation (the suite's contract), where the release's
  vector env hands the reset one.
- Symbolic grids (MiniGrid, which the paper never ran) get the suite's grid conv
  (`conv_trunk`) under the same heads and init. ``grid_encoder = "rllte"`` builds
  RLeXplore's RND instead: target and predictor each a bare `rllte_grid_encoder` (ReLU, 512
  features, PyTorch's init; rllte/xplore/reward/rnd.py:82-83), no heads. rllte trains its
  predictor on s_t where this class (and the release) trains it on s_{t+1}: the same
  states one step apart, not switchable.
- ``episodic = False``: the intrinsic return runs across episode ends, which needs an agent
  with two value heads (its recipe sets them; with one head the harness warns), and the
  default normaliser divides by the running std of the intrinsic return ("return_rms").
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import torch
from torch import nn

from bonuses._encoders import (
    RND_CONV,
    RunningMeanStd,
    StepSchedule,
    check_grid_encoder,
    conv_trunk,
    frame,
    frame_shape,
    minibatches,
    mlp,
    observation_features,
    orthogonal_init,
    rllte_grid_encoder,
)
from bonuses.base import BonusConfig, IntrinsicBonus, Recipe, Transitions, is_grid

_SOURCE = (
    "Burda et al. 2018, sec. 2.3-2.4; openai/random-network-distillation ppo_agent.py "
    "(use_news=0: the intrinsic return runs across episode ends, its own value head at gamma "
    "0.99; ext/int coeff 2/1; rewards divided by the std of the discounted intrinsic return) "
    "and run_atari.py (collect_random_statistics(128 * 50): 6,400 random steps per env). Its "
    "Atari PPO settings are the preset rnd-atari"
)
#: Random-action steps per env before training: the release's 128 x 50 = 6,400 per env
#: (run_atari.py, ``collect_random_statistics``), a negligible share of its 2B-frame budgets.
#: The harness cuts a recipe's warm-up to a tenth of a smaller budget, with a warning
#: (`explore_bench.settings.recipes.MAX_WARMUP_SHARE`).
_WARMUP = {"warmup_steps": 128 * 50}
_SHAPING = {"normalizer": "return_rms", "return_gamma": 0.99}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RNDConfig(BonusConfig):
    """RND hyper-parameters; defaults from Burda et al. 2018 (their Atari settings)."""

    #: Adam learning rate of the predictor (paper: 1e-4).
    learning_rate: float = 1e-4
    #: Fraction of transitions that train the predictor (run_atari.py: 1.0).
    update_proportion: float = 1.0
    #: Width of the target's and predictor's output embedding (paper: 512).
    feature_dim: int = 512
    #: Hidden widths of the MLP trunk for vector/discrete observations (not in the paper).
    hidden_sizes: tuple[int, ...] = (256, 256)
    #: Normalise inputs by running per-element mean and std (paper: yes); False feeds the
    #: networks raw features (uint8 images / 255), rllte's ``obs_rms=False`` (RLeXplore's runs).
    obs_normalize: bool = True
    #: Normalised observations are clipped to [-obs_clip, obs_clip] (paper: 5).
    obs_clip: float = 5.0
    #: Initial updates that only fit observation statistics (their steps count in the budget).
    warmup_updates: int = 1
    #: Passes over each rollout per update (run_atari.py nepochs: 4).
    epochs: int = 4
    #: Transitions per predictor step (run_atari.py: 128 steps x 32 envs / 4 minibatches).
    minibatch_size: int = 1024
    #: Minibatches per pass instead of ``minibatch_size`` when > 0 (the pre-issue-29 schedule).
    num_minibatches: int = 0
    #: Negative slope of the networks' leaky ReLUs (``tf.nn.leaky_relu`` default: 0.2).
    leaky_slope: float = 0.2
    #: Networks for a symbolic grid: "ride", the suite's grid conv with RND's heads; "rllte",
    #: RLeXplore's bare MinigridEncoder as target and predictor (512 features).
    grid_encoder: str = "ride"

    #: What a config.json written before a field existed ran with (issue 29's fields, whose
    #: ``num_minibatches`` then fixed the schedule, and ``leaky_slope``, PyTorch's before).
    legacy_fields: ClassVar[Mapping[str, Any]] = {
        "minibatch_size": 1024,
        "obs_normalize": True,
        "leaky_slope": 0.01,
        "grid_encoder": "ride",
    }

    def __post_init__(self) -> None:
        check_grid_encoder(self.grid_encoder, "rnd")
        for name in ("learning_rate", "feature_dim", "obs_clip", "epochs", "minibatch_size"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"rnd.{name} must be > 0, got {value!r}")
        if not 0.0 < self.update_proportion <= 1.0:
            raise ValueError(
                f"rnd.update_proportion must be in (0, 1], got {self.update_proportion!r}"
            )
        if self.warmup_updates < 0:
            raise ValueError(f"rnd.warmup_updates must be >= 0, got {self.warmup_updates!r}")
        if not self.hidden_sizes or any(h <= 0 for h in self.hidden_sizes):
            raise ValueError(f"rnd.hidden_sizes must be positive widths, got {self.hidden_sizes!r}")
        if not 0.0 <= self.leaky_slope < 1.0:
            raise ValueError(f"rnd.leaky_slope must be in [0, 1), got {self.leaky_slope!r}")


class RND(IntrinsicBonus):
    """Novelty as the error of a predictor distilling a fixed random network."""

    config_cls = RNDConfig
    episodic = False
    default_normalizer = "return_rms"
    description = "RND: error of a predictor distilling a fixed random network on s'."
    reference = "Burda et al. 2018, Exploration by Random Network Distillation"
    recipes = {
        "*": Recipe(
            source=_SOURCE,
            agent={"two_value_heads": True, "int_gamma": 0.99, "ext_coef": 2.0, "int_coef": 1.0},
            shaping=_SHAPING,
            run=_WARMUP,
        ),
    }

    config: RNDConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        cfg = self.config
        feat = cfg.feature_dim
        leaky = functools.partial(nn.LeakyReLU, cfg.leaky_slope)
        if self.obs_kind == "image":
            shape = frame_shape(observation_space.shape)  # type: ignore[arg-type]
        else:
            shape = (self.num_states or int(observation_space.shape[0]),)  # type: ignore[index]
        rllte = is_grid(shape) and cfg.grid_encoder == "rllte"
        if rllte:
            self.predictor, _ = rllte_grid_encoder(shape)  # built in rllte's order
            self.target, _ = rllte_grid_encoder(shape)
        elif self.obs_kind == "image":
            target_trunk, width = conv_trunk(shape, RND_CONV, leaky)
            pred_trunk, _ = conv_trunk(shape, RND_CONV, leaky)
            self.target = nn.Sequential(target_trunk, nn.Linear(width, feat))
            self.predictor = nn.Sequential(pred_trunk, mlp(width, (feat, feat), feat))
        else:
            hidden = cfg.hidden_sizes
            self.target = mlp(shape[0], hidden, feat, leaky)
            self.predictor = mlp(shape[0], (*hidden, feat, feat), feat, leaky)
        if not rllte:  # rllte's encoder keeps PyTorch's init
            orthogonal_init(self.target)
            orthogonal_init(self.predictor)
        self.target.requires_grad_(False)
        self.obs_rms = RunningMeanStd(shape)
        self.num_updates = 0
        #: Predictor steps per pass, per env step as released.
        self.schedule = StepSchedule(cfg.minibatch_size, cfg.num_minibatches)
        #: Set once `warm_up` has fitted the statistics on random-action steps.
        self.warmed_up = False
        self.to(self.device)
        self.optimizer = torch.optim.Adam(
            self.predictor.parameters(), lr=cfg.learning_rate, fused=True
        )

    @property
    def warming_up(self) -> bool:
        """True while updates only fit the observation statistics (never without them)."""
        cfg = self.config
        return cfg.obs_normalize and not self.warmed_up and self.num_updates < cfg.warmup_updates

    @torch.no_grad()
    def warm_up(self, batch: Transitions) -> None:
        """Observation statistics from random-action steps (the paper's initialisation)."""
        self.obs_rms.update(self._raw_features(batch.flat().next_obs.to(self.device)))
        self.warmed_up = True

    def _raw_features(self, next_obs: torch.Tensor) -> torch.Tensor:
        """Flat-batch observations as float features, before normalisation."""
        if self.obs_kind == "image":
            next_obs = frame(next_obs)  # the newest frame only (a grid: its whole view)
        return observation_features(next_obs, self.obs_kind, self.num_states)

    def _inputs(self, next_obs: torch.Tensor) -> torch.Tensor:
        """Flat-batch observations as the networks' input (normalised and clipped, unless
        ``obs_normalize`` is off)."""
        return self._normalized(self._raw_features(next_obs))

    def _normalized(self, raw: torch.Tensor) -> torch.Tensor:
        if not self.config.obs_normalize:
            return raw
        return self.obs_rms.normalize(raw, self.config.obs_clip)

    def _error(self, x: torch.Tensor) -> torch.Tensor:
        return (self.predictor(x) - self.target(x)).pow(2).mean(-1)

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        if self.warming_up:
            return torch.zeros(batch.ext_rewards.shape, dtype=torch.float32, device=self.device)
        flat = batch.flat().to(self.device)
        bonus = self._error(self._inputs(flat.next_obs))
        return bonus.reshape(batch.num_steps, batch.num_envs).float()

    def update(self, batch: Transitions) -> dict[str, float]:
        next_obs = batch.flat().next_obs.to(self.device)
        raw = self._raw_features(next_obs)
        self.obs_rms.update(raw)
        warm = self.warming_up
        self.num_updates += 1
        if warm:
            return {"warmup": 1.0, "predictor_loss": 0.0}
        x = self._normalized(raw)
        with torch.no_grad():  # the target is fixed: its features are computed once per update
            target = self.target(x)
        losses = []
        for _ in range(self.config.epochs):
            count = self.schedule.steps(x.shape[0])
            if count == 0:
                continue
            for idx in minibatches(x.shape[0], count, self.device):
                # Only the update_proportion share of each minibatch trains the predictor
                # (Burda et al. 2018); the rest is dropped before the forward pass rather than
                # masked after it, which gives the same gradient for a quarter of the work.
                draw = torch.rand(idx.shape, device=self.device)
                keep = idx[draw < self.config.update_proportion]
                if keep.numel() == 0:
                    continue
                loss = (self.predictor(x[keep]) - target[keep]).pow(2).mean()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                losses.append(loss.detach())
        mean_loss = torch.stack(losses).mean().item() if losses else 0.0
        return {"warmup": 0.0, "predictor_loss": mean_loss}

    def get_extra_state(self) -> Any:
        return {
            **super().get_extra_state(),
            "num_updates": self.num_updates,
            "warmed_up": self.warmed_up,
            "step_credit": self.schedule.credit,
        }

    def set_extra_state(self, state: Any) -> None:
        super().set_extra_state(state)
        self.num_updates = int(state["num_updates"])
        self.warmed_up = bool(state.get("warmed_up", False))
        self.schedule.credit = float(state.get("step_credit", 0.0))
