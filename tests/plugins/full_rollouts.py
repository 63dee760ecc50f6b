"""An agent that learns from whole rollouts only: the budget is rounded up, not cut."""

from __future__ import annotations

from agents.ppo import PPO


class FullRolloutPPO(PPO):
    cuts_last_rollout = False
