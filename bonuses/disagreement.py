"""Self-supervised exploration via disagreement (Pathak, Gandhi & Gupta 2019, ICML).

An ensemble of forward models predicts the features phi(s_{t+1}) from (phi(s_t), a_t); the
bonus is their disagreement, the variance across the ensemble's predictions averaged over
the feature dimensions. Where the models have seen enough data they agree, whatever the
environment's noise, so the bonus fades there.

As in the released code (pathak22/exploration-by-disagreement, defaults of ``run.py``):

- Features are fixed random features (``--feat_learning none``): the 3-layer conv of
  Mnih et al. (32 8x8/4, 64 4x4/2, 64 3x3/1, leaky ReLU) on the stacked frames, then a
  linear layer to 512, on observations standardised by a per-element mean and one scalar
  std (the mean of the per-element stds) measured on random-agent steps (``utils.py``).
  Here those statistics are measured on the first ``warmup_updates`` rollouts, whose steps
  count in the budget, and then frozen; `compute` returns zeros until then.
- 5 forward models (``dynamics.py``): [phi(s), a] -> 512 leaky ReLU, 4 residual blocks of
  two dense layers with the action concatenated into every layer, -> 512. Each is trained
  on the squared error averaged over features, with a dropout of keep probability 0.8 on
  the per-sample loss (so each member sees its own random 80%), the members' losses summed
  into one Adam with lr 1e-4, over 3 epochs of 8 minibatches of PPO's own rollout of 128
  steps x 128 envs (run.py --envs_per_process 128, --nminibatches 8, --nepochs 3): 24 steps
  per 16,384 env steps, minibatches of 2,048. Here the same per env step (issue 29; before,
  24 steps per rollout of 8 envs, 16 times as many): ``minibatch_size`` 2,048, one step per
  2,048 env steps and epoch (`bonuses._encoders.StepSchedule`).
- Reward, as released: the policy learns from the intrinsic reward alone (run.py
  ``--ext_coeff 0``, ``--int_coeff 1``, one value head, ``--use_news 0``: a return across
  episode ends). Here the recipe gives it two value heads, the intrinsic one non-episodic at
  gamma 0.99, and weights them ext 0 / int 1, which trains the policy on the same
  advantage. ``--set agent.ext_coef=1`` (or the preset ``disagreement-ext``) adds the
  extrinsic reward, the suite's former default.
- The variance is the population variance across members (``np.var``, ``rollouts.py``).
- Init and activations as released (``weight_init = "release"``, ``leaky_slope`` 0.2: runs
  before 2026-12-07 had PyTorch's init and slope 0.01): TensorFlow's layer defaults,
  Glorot-uniform weights and zero biases, for the feature convs (``utils.py`` ``conv``) and
  every forward-model layer (``dynamics.py``, ``tf.layers.dense``), the feature layer to 512
  ``normc_initializer(1.0)`` (``utils.py`` ``fc``: each unit's weights of norm 1), and
  ``tf.nn.leaky_relu``'s slope of 0.2 throughout. At an episode end the target is phi of
  the true final observation (the suite's contract), where the release's is the reset one.

Where the paper is silent: vector and discrete (one-hot) observations get a random
leaky-ReLU MLP for phi; grids (MiniGrid) the shared grid conv of `conv_trunk`, or with
``grid_encoder = "rllte"`` RLeXplore's phi, a bare `rllte_grid_encoder` (ReLU, 512 features,
PyTorch's init whatever ``weight_init`` says; rllte/xplore/reward/disagreement.py:85-89);
continuous actions enter the models as their (clipped) values instead of a one-hot.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import torch
from torch import nn

from bonuses._encoders import (
    RND_CONV,
    RunningMeanStd,
    StepSchedule,
    check_choice,
    check_grid_encoder,
    conv_trunk,
    init_layers,
    mlp,
    observation_features,
    rllte_grid_encoder,
    train_minibatches,
    unit_norm_rows,
)
from bonuses.base import BonusConfig, IntrinsicBonus, Recipe, Transitions, is_grid

_RELEASE = "pathak22/exploration-by-disagreement, run.py defaults and cppo_agent.py"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DisagreementConfig(BonusConfig):
    """Disagreement hyper-parameters; defaults from Pathak et al. 2019 and their run.py."""

    #: Forward models in the ensemble (run.py --num_dynamics: 5).
    ensemble_size: int = 5
    #: Width of the random features phi (run.py feat_dim: 512).
    feature_dim: int = 512
    #: Width of the forward models' hidden layers (run.py hidsize: 512).
    hidden_dim: int = 512
    #: Residual blocks per forward model (dynamics.py: 4).
    residual_blocks: int = 4
    #: Share of samples each member trains on (dynamics.py dropout keep_prob: 0.8).
    keep_prob: float = 0.8
    #: Adam learning rate (run.py --lr: 1e-4).
    learning_rate: float = 1e-4
    #: Passes over each rollout per update (run.py --nepochs: 3).
    epochs: int = 3
    #: Transitions per step (run.py: 128 steps x 128 envs / --nminibatches 8 = 2,048).
    minibatch_size: int = 2048
    #: Steps per pass instead of ``minibatch_size`` when > 0 (8: the pre-issue-29 schedule).
    num_minibatches: int = 0

    #: Init: "release" (TensorFlow's layer defaults as the release builds them: module
    #: docstring) or "torch" (PyTorch's).
    weight_init: str = "release"
    #: Negative slope of the leaky ReLUs (``tf.nn.leaky_relu`` default: 0.2).
    leaky_slope: float = 0.2
    #: phi of a symbolic grid: "ride", the suite's grid conv and feature layer; "rllte",
    #: RLeXplore's bare MinigridEncoder (512 features).
    grid_encoder: str = "ride"

    #: What a config.json written before a field existed ran with (issue 29's fields, whose
    #: ``num_minibatches`` then fixed the schedule; PyTorch's init and slope before 2026-12-07).
    legacy_fields: ClassVar[Mapping[str, Any]] = {
        "minibatch_size": 2048,
        "weight_init": "torch",
        "leaky_slope": 0.01,
        "grid_encoder": "ride",
    }
    #: Hidden widths of the random MLP features for vector/discrete inputs (not in the paper).
    hidden_sizes: tuple[int, ...] = (256, 256)
    #: Updates that only measure the observation statistics (release: 10k random steps).
    warmup_updates: int = 1

    def __post_init__(self) -> None:
        check_choice("disagreement.weight_init", self.weight_init, ("release", "torch"))
        check_grid_encoder(self.grid_encoder, "disagreement")
        if not 0.0 <= self.leaky_slope < 1.0:
            raise ValueError(
                f"disagreement.leaky_slope must be in [0, 1), got {self.leaky_slope!r}"
            )
        for name in ("ensemble_size", "feature_dim", "hidden_dim", "epochs", "minibatch_size"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"disagreement.{name} must be an integer >= 1, got {value!r}")
        if self.ensemble_size < 2:
            raise ValueError(
                f"disagreement.ensemble_size must be >= 2 (a variance), got {self.ensemble_size}"
            )
        if self.residual_blocks < 0 or self.warmup_updates < 0 or self.num_minibatches < 0:
            raise ValueError(
                "disagreement.residual_blocks, warmup_updates and num_minibatches must be >= 0"
            )
        if not 0.0 < self.keep_prob <= 1.0:
            raise ValueError(f"disagreement.keep_prob must be in (0, 1], got {self.keep_prob!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"disagreement.learning_rate must be > 0, got {self.learning_rate!r}")
        if not self.hidden_sizes or any(h <= 0 for h in self.hidden_sizes):
            raise ValueError(
                f"disagreement.hidden_sizes must be positive widths, got {self.hidden_sizes!r}"
            )


class EnsembleLinear(nn.Module):
    """``E`` independent linear layers applied in one batched matmul: (E, B, in) -> (E, B, out)."""

    def __init__(self, members: int, in_dim: int, out_dim: int, glorot: bool = True) -> None:
        super().__init__()
        # Per member: tf.layers.dense's default (Glorot-uniform, zero bias) or nn.Linear's.
        bound = math.sqrt(6.0 / (in_dim + out_dim)) if glorot else 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim).uniform_(-bound, bound))
        bias = torch.zeros(members, 1, out_dim)
        self.bias = nn.Parameter(bias if glorot else bias.uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class ForwardEnsemble(nn.Module):
    """The release's forward model, ``members`` times: the action joins every layer's input."""

    def __init__(
        self, members: int, feat: int, act: int, hidden: int, blocks: int, *, glorot: bool,
        slope: float,
    ) -> None:  # fmt: skip
        super().__init__()
        self.members = members
        self.slope = slope
        layer = functools.partial(EnsembleLinear, members, glorot=glorot)
        self.inp = layer(feat + act, hidden)
        # Residual block i is second[i](first[i](h)) added to h.
        self.first = nn.ModuleList(layer(hidden + act, hidden) for _ in range(blocks))
        self.second = nn.ModuleList(layer(hidden + act, hidden) for _ in range(blocks))
        self.out = layer(hidden + act, feat)

    def forward(self, phi: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(B, F), (B, A) -> (E, B, F) predictions of phi(s')."""
        a = action.expand(self.members, *action.shape)

        def cat(x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x, a], -1)

        act = functools.partial(nn.functional.leaky_relu, negative_slope=self.slope)
        h = act(self.inp(cat(phi.expand(self.members, *phi.shape))))
        for first, second in zip(self.first, self.second, strict=True):
            h = h + second(cat(act(first(cat(h)))))
        return self.out(cat(h))


class Disagreement(IntrinsicBonus):
    """Variance of an ensemble of forward models' predictions in a random feature space."""

    config_cls = DisagreementConfig
    #: The intrinsic return runs across episode ends (run.py --use_news 0).
    episodic = False
    default_normalizer = "return_rms"  # cppo_agent.py: rewards over the intrinsic return's std
    description = "Disagreement: variance of 5 forward models' predictions of random features."
    reference = "Pathak, Gandhi & Gupta 2019, Self-Supervised Exploration via Disagreement"
    recipes = {
        "*": Recipe(
            source=f"Pathak et al. 2019, sec. 5 and {_RELEASE}: the policy learns from the "
            "intrinsic reward alone (--ext_coeff 0, --int_coeff 1) with --use_news 0 (a return "
            "across episode ends): a non-episodic intrinsic value head at gamma 0.99 with "
            "weights ext 0 / int 1; its PPO settings are the preset disagreement-atari",
            agent={"two_value_heads": True, "int_gamma": 0.99, "ext_coef": 0.0, "int_coef": 1.0},
            shaping={"normalizer": "return_rms", "return_gamma": 0.99},
        )
    }

    config: DisagreementConfig

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: BonusConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(observation_space, action_space, config, device)
        cfg = self.config
        leaky = functools.partial(nn.LeakyReLU, cfg.leaky_slope)
        shape = tuple(observation_space.shape)  # type: ignore[arg-type]
        feature_dim = cfg.feature_dim
        if self.obs_kind == "image" and is_grid(shape) and cfg.grid_encoder == "rllte":
            self.features, feature_dim = rllte_grid_encoder(shape)
        elif self.obs_kind == "image":
            trunk, width = conv_trunk(shape, RND_CONV, leaky)  # grids: the grid conv
            fc = nn.Linear(width, cfg.feature_dim)
            self.features = nn.Sequential(trunk, fc)
            if cfg.weight_init == "release":
                init_layers(self.features, nn.init.xavier_uniform_)
                unit_norm_rows(fc.weight, 1.0)
        else:
            shape = (self.num_states or int(observation_space.shape[0]),)  # type: ignore[index]
            self.features = mlp(shape[0], cfg.hidden_sizes, cfg.feature_dim, leaky)
            if cfg.weight_init == "release":  # not in the release: tf.layers.dense's default
                init_layers(self.features, nn.init.xavier_uniform_)
        self.features.requires_grad_(False)
        self.obs_rms = RunningMeanStd(shape)
        self.ensemble = ForwardEnsemble(
            cfg.ensemble_size, feature_dim, self.action_dim, cfg.hidden_dim,
            cfg.residual_blocks, glorot=cfg.weight_init == "release", slope=cfg.leaky_slope,
        )  # fmt: skip
        self.num_updates = 0
        #: Model steps per pass, per env step as released.
        self.schedule = StepSchedule(cfg.minibatch_size, cfg.num_minibatches)
        self.to(self.device)
        self.optimizer = torch.optim.Adam(
            self.ensemble.parameters(), lr=cfg.learning_rate, fused=True
        )

    def _phi(self, obs: torch.Tensor) -> torch.Tensor:
        x = observation_features(obs, self.obs_kind, self.num_states)
        std = torch.sqrt(self.obs_rms.var).mean()  # one scalar std, as the release
        with torch.no_grad():
            return self.features(((x - self.obs_rms.mean) / (std + 1e-8)).float())

    def disagreement(self, predictions: torch.Tensor) -> torch.Tensor:
        """(E, B, F) predictions -> (B,) population variance across E, mean over F."""
        return predictions.var(0, unbiased=False).mean(-1)

    @torch.no_grad()
    def compute(self, batch: Transitions) -> torch.Tensor:
        if self.num_updates < self.config.warmup_updates:
            return torch.zeros(batch.ext_rewards.shape, dtype=torch.float32, device=self.device)
        flat = batch.flat().to(self.device)
        pred = self.ensemble(self._phi(flat.obs), self.action_features(flat.actions))
        return self.disagreement(pred).reshape(batch.ext_rewards.shape).float().to(self.device)

    def update(self, batch: Transitions) -> dict[str, float]:
        flat = batch.flat().to(self.device)
        self.num_updates += 1
        if self.num_updates <= self.config.warmup_updates:
            self.obs_rms.update(observation_features(flat.obs, self.obs_kind, self.num_states))
            return {"warmup": 1.0, "forward_loss": 0.0}
        cfg = self.config
        phi, phi_next = self._phi(flat.obs), self._phi(flat.next_obs)
        actions = self.action_features(flat.actions)

        def loss(idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            pred = self.ensemble(phi[idx], actions[idx])
            per_sample = (pred - phi_next[idx]).pow(2).mean(-1)  # (E, b)
            keep = torch.rand(per_sample.shape, device=self.device) < cfg.keep_prob
            # tf.nn.dropout scales the kept entries by 1 / keep_prob.
            total = (per_sample * keep / cfg.keep_prob).mean(1).sum()
            return total, {"forward_loss": total}

        metrics = train_minibatches(
            self.optimizer, phi.shape[0], cfg.epochs, self.schedule, loss, device=self.device
        )
        return {"warmup": 0.0, "forward_loss": 0.0, **metrics}

    def get_extra_state(self) -> Any:
        return {
            **super().get_extra_state(),
            "num_updates": self.num_updates,
            "step_credit": self.schedule.credit,
        }

    def set_extra_state(self, state: Any) -> None:
        super().set_extra_state(state)
        self.num_updates = int(state["num_updates"])
        self.schedule.credit = float(state.get("step_credit", 0.0))
