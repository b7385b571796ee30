"""Importable helpers for tests (a third-party plugin by module:attr)."""

import torch


def sum_collate(**_: object):
    return _sum


def _sum(batch: list) -> torch.Tensor:
    return torch.tensor(sum(batch))
