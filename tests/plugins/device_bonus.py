"""A test bonus that checks the device of every tensor the harness hands it (issue 18)."""

from __future__ import annotations

import dataclasses

import torch

from bonuses.base import IntrinsicBonus, Transitions

#: (call, field, device) of every tensor seen, across instances (the runner builds its own).
SEEN: list[tuple[str, str, torch.device]] = []


class DeviceRecorder(IntrinsicBonus):
    """Scores zero; fails the run if a tensor of a batch is off the run's device."""

    description = "test: records the device of every tensor it receives"
    reference = "-"

    def _check(self, batch: Transitions, call: str) -> None:
        for field in dataclasses.fields(batch):
            value = getattr(batch, field.name)
            if value is None:
                continue
            SEEN.append((call, field.name, value.device))
            if value.device != self.device:
                raise AssertionError(
                    f"{call}: batch.{field.name} on {value.device}, run.device is {self.device}"
                )

    def compute(self, batch: Transitions) -> torch.Tensor:
        self._check(batch, "compute")
        return torch.zeros(batch.ext_rewards.shape, device=self.device)

    def update(self, batch: Transitions) -> dict[str, float]:
        self._check(batch, "update")
        return {}
