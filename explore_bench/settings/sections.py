"""The harness's own config sections: `RunSettings` (what to run, how to log it) and
`ShapingConfig` (how a raw bonus becomes the intrinsic reward)."""

from __future__ import annotations

import dataclasses
import typing

from explore_bench.errors import ConfigError
from explore_bench.settings.devices import check_device_syntax
from explore_bench.settings.recipes import MODES

#: `RunSettings.vector` values: the task's native vector env, or gymnasium's.
VECTOR_KINDS = ("auto", "native", "sync", "async")
#: Largest step budget accepted (far beyond any published run; larger values are typos
#: such as 1e23 that would never reach an evaluation).
MAX_STEPS = 10**12
#: Seeds are used by NumPy, whose seeds are 32-bit.
MAX_SEED = 2**32 - 1


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What to run and how to log it."""

    #: Agent name or import path (see `explore-bench list`).
    agent: str = "ppo"
    #: Bonus name or import path.
    bonus: str = "none"
    #: Task name or any gymnasium id.
    task: str = "CartPole-v1"
    #: Environment-step budget (every step counts, warm-up included).
    steps: int = 100_000
    #: Seed for torch, numpy and the environments.
    seed: int = 0
    #: Parallel environments in the vector env.
    num_envs: int = 8
    #: Vector env: "auto" (the task's native vector env if it has one, else "sync"), "native"
    #: (ale-py's AtariVectorEnv for Atari tasks), or the gymnasium stack: "sync" (faster on
    #: few cores) or "async" (one process per env).
    vector: str = "auto"
    #: Preset applied before overrides (see `explore_bench.settings.presets`), or "".
    preset: str = ""
    #: "paper": the bonus's paper recipe on top of the agent's defaults; "shared": no
    #: recipe, every bonus under identical agent settings (see `explore_bench.settings.recipes`).
    recipe: str = "paper"
    #: Random-action steps per env before training, handed to the bonus's ``warm_up``
    #: (RND's observation statistics, Burda et al. 2018); they count in the budget.
    warmup_steps: int = 0
    #: Evaluate every this many env steps (0: ten evaluations over the budget).
    eval_interval: int = 0
    #: Episodes per evaluation (raw score, the policy's mode).
    eval_episodes: int = 5
    #: Save a resumable checkpoint every this many agent iterations (0: only at the end).
    checkpoint_interval: int = 10
    #: torch device: "auto" (a GPU when torch sees one, else the CPU), "cpu", "cuda", "cuda:K".
    device: str = "auto"
    #: Deterministic torch kernels (torch.use_deterministic_algorithms, cuDNN deterministic,
    #: CUBLAS_WORKSPACE_CONFIG=:4096:8; torch's reproducibility notes): same-seed GPU runs then
    #: repeat exactly on one machine, at some speed cost. CPU runs repeat without it.
    deterministic: bool = False
    #: torch intra-op threads (1 is fastest for MLPs on small machines).
    torch_threads: int = 1
    #: Record one evaluation episode as a video (run_dir/videos) every this many env steps
    #: (0: never); needs the `video` extra.
    video_every: int = 0
    #: Log to Weights & Biases as well (nothing is sent unless this is set; `wandb` extra).
    track: bool = False
    #: W&B project of a tracked run.
    wandb_project: str = "explore-bench"
    #: W&B entity (user or team) of a tracked run; "" = your default entity.
    wandb_entity: str = ""
    #: W&B mode: "online", or "offline" (writes run_dir/wandb only; `wandb sync` it later).
    wandb_mode: str = "online"

    def __post_init__(self) -> None:
        if not 0 < self.steps <= MAX_STEPS:
            raise ConfigError(
                f"run.steps must be a positive integer of at most {MAX_STEPS:.0e}, got {self.steps}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"run.seed must be in [0, {MAX_SEED}], got {self.seed}")
        if not 0 <= self.eval_interval <= MAX_STEPS:
            raise ConfigError(
                f"run.eval_interval must be in [0, {MAX_STEPS:.0e}] env steps, "
                f"got {self.eval_interval}"
            )
        if self.num_envs <= 0:
            raise ConfigError(f"run.num_envs must be a positive integer, got {self.num_envs}")
        if self.vector not in VECTOR_KINDS:
            raise ConfigError(
                f"run.vector must be one of {', '.join(VECTOR_KINDS)}, got {self.vector!r}"
            )
        if self.eval_interval < 0 or self.eval_episodes < 0:
            raise ConfigError("run.eval_interval and run.eval_episodes must be >= 0")
        if self.checkpoint_interval < 0:
            raise ConfigError(
                f"run.checkpoint_interval must be >= 0, got {self.checkpoint_interval}"
            )
        if self.torch_threads <= 0:
            raise ConfigError(f"run.torch_threads must be positive, got {self.torch_threads}")
        if self.recipe not in MODES:
            raise ConfigError(f"run.recipe must be one of {', '.join(MODES)}, got {self.recipe!r}")
        if self.warmup_steps < 0:
            raise ConfigError(f"run.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.warmup_steps * self.num_envs >= self.steps:
            raise ConfigError(
                f"run.warmup_steps={self.warmup_steps} x run.num_envs={self.num_envs} random "
                f"steps leave none of run.steps={self.steps} for training; lower "
                "run.warmup_steps (it counts in the budget)"
            )
        check_device_syntax(self.device)
        if self.video_every < 0:
            raise ConfigError(f"run.video_every must be >= 0, got {self.video_every}")
        if self.wandb_mode not in ("online", "offline"):
            raise ConfigError(
                f"run.wandb_mode must be 'online' or 'offline', got {self.wandb_mode!r}"
            )

    @property
    def effective_eval_interval(self) -> int:
        return self.eval_interval or max(1, self.steps // 10)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShapingConfig:
    """How the raw bonus becomes the intrinsic reward: normaliser, then coefficient."""

    #: Normaliser name ("none", "reward_rms", "return_rms", "minmax"); "" = the bonus's default.
    normalizer: str = ""
    #: Coefficient the normalised bonus is multiplied by.
    coef: float = 1.0
    #: Coefficient schedule over training: "constant", "linear" (to coef_final) or "exponential".
    schedule: str = "constant"
    #: Coefficient at the end of training for the linear schedule.
    coef_final: float = 0.0
    #: Per-iteration multiplicative decay for the exponential schedule.
    decay: float = 0.999
    #: Discount of the return whose running std `return_rms` divides by.
    return_gamma: float = 0.99
    #: Running statistics are clipped to this many standard deviations (0 = no clipping).
    clip: float = 0.0
    #: Added to the running variance before the square root in "reward_rms" / "return_rms"
    #: (1e-8, as OpenAI baselines' RunningMeanStd; rllte's ``rms``, RLeXplore: 0).
    rms_epsilon: float = 1e-8

    #: Fields that may be negative (a negative coefficient penalises novelty: an ablation).
    signed_fields: typing.ClassVar[frozenset[str]] = frozenset({"coef", "coef_final"})
    #: What a config.json written before a field existed ran with.
    legacy_fields: typing.ClassVar[typing.Mapping[str, typing.Any]] = {"rms_epsilon": 1e-8}

    def __post_init__(self) -> None:
        # the contract names the normalisers; it loads torch, which `import explore_bench` skips
        from bonuses.base import NORMALIZERS

        if self.normalizer and self.normalizer not in NORMALIZERS:
            raise ConfigError(
                f"shaping.normalizer {self.normalizer!r} is not one of {', '.join(NORMALIZERS)}"
                " (or empty for the bonus's default)"
            )
        if self.schedule not in ("constant", "linear", "exponential"):
            raise ConfigError(
                f"shaping.schedule {self.schedule!r} is not one of constant, linear, exponential"
            )
        if not 0.0 < self.decay <= 1.0:
            raise ConfigError(f"shaping.decay must be in (0, 1], got {self.decay}")
        if not self.rms_epsilon >= 0.0:
            raise ConfigError(f"shaping.rms_epsilon must be >= 0, got {self.rms_epsilon}")
        if not 0.0 <= self.return_gamma <= 1.0:
            raise ConfigError(f"shaping.return_gamma must be in [0, 1], got {self.return_gamma}")
