"""Nonlinearities, and ``create_act``: one way to make an activation from a name or class.

Like timm's ``create_act``, ``create_act`` accepts a registered name, an
``nn.Module`` class or any callable returning a module, so heads and composite
blocks can take an ``act`` argument in the same form a spec gives it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch import nn

from convzoo.registry import REGISTRY, register


@register("act", "relu", description="rectified linear unit max(0, x)", example={})
def relu(inplace: bool = False) -> nn.Module:
    """max(0, x)."""
    return nn.ReLU(inplace=inplace)


def create_act(
    act: str | Callable[..., nn.Module] | None, channels: int | None = None
) -> nn.Module:
    """An activation module from a registered name, a class or a factory; None -> identity.

    ``channels`` is passed as ``in_channels`` to activations that ask for it
    (learnable per-channel slopes).
    """
    if act is None:
        return nn.Identity()
    factory = REGISTRY.get("act", act).obj if isinstance(act, str) else act
    params = inspect.signature(factory).parameters
    if "in_channels" in params and channels is not None:
        return factory(in_channels=channels)
    return factory()
