"""Nonlinearities, and ``create_act``: one way to make an activation from a name or class.

The element-wise activations without per-channel state are one table
(``_SIMPLE``): each entry names the module class, the block's description, its
paper and the rule each spec argument must follow, and is registered as its own
block whose spec arguments are the class's (less ``inplace``). ``prelu`` is
separate because it learns a slope per channel from the injected ``in_channels``.

Like timm's ``create_act``, ``create_act`` accepts a registered name, an
``nn.Module`` class or any callable returning a module, so heads and composite
blocks can take an ``act`` argument in the same form a spec gives it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from convzoo.errors import is_number
from convzoo.registry import REGISTRY, injectable, register


class LeCunTanh(nn.Module):
    """f(x) = 1.7159 tanh(2x/3), the sigmoid of LeCun et al. 1998 ("Efficient BackProp").

    The constants make f(1) = 1 and f(-1) = -1 (targets at +-1 sit where the
    second derivative peaks, not in the flat tails) with a gain near 1 at 0.
    """

    scale = 1.7159
    slope = 2.0 / 3.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """1.7159 tanh(2x/3), element-wise."""
        return self.scale * torch.tanh(self.slope * x)


class Abs(nn.Module):
    """Rectification by absolute value, |x| (Jarrett et al. 2009): keeps a feature's
    magnitude whatever its polarity."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """|x|, element-wise."""
        return x.abs()


Rule = tuple[Callable[[Any], bool], str]


FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def _is_real(value: Any) -> bool:
    """A number a float32 network can hold: finite, and within float32's range."""
    return is_number(value) and math.isfinite(value) and abs(value) <= FLOAT32_MAX


REAL: Rule = (_is_real, "a finite number within float32's range")
POSITIVE: Rule = (lambda v: _is_real(v) and v > 0, "a positive number")


@dataclass(frozen=True)
class _Simple:
    """One table entry: the module class, its metadata and a rule per spec argument."""

    module: Callable[..., nn.Module]
    description: str
    reference: str | None = None
    rules: Mapping[str, Rule] = field(default_factory=dict)


_SIMPLE: dict[str, _Simple] = {
    "leaky_relu": _Simple(
        nn.LeakyReLU,
        "leaky rectifier: x for x > 0, negative_slope * x otherwise",
        "Maas, Hannun & Ng 2013, Rectifier nonlinearities improve neural network acoustic models",
        {"negative_slope": REAL},
    ),
    "elu": _Simple(
        nn.ELU,
        "exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise",
        "Clevert, Unterthiner & Hochreiter 2016, Fast and accurate deep network learning by "
        "exponential linear units (ELUs)",
        {"alpha": REAL},
    ),
    "gelu": _Simple(
        nn.GELU,
        "Gaussian error linear unit x * Phi(x); approximate='tanh' for the tanh form",
        "Hendrycks & Gimpel 2016, Gaussian error linear units (GELUs)",
        {"approximate": (lambda v: v in ("none", "tanh"), "'none' (exact, erf) or 'tanh'")},
    ),
    "silu": _Simple(
        nn.SiLU,
        "sigmoid-weighted linear unit (swish) x * sigmoid(x)",
        "Elfwing, Uchibe & Doya 2018, Sigmoid-weighted linear units for neural network "
        "function approximation in reinforcement learning",
    ),
    "tanh": _Simple(
        nn.Tanh,
        "hyperbolic tangent tanh(x)",
        "LeCun, Bottou, Orr & Mueller 1998, Efficient BackProp",
    ),
    "sigmoid": _Simple(
        nn.Sigmoid,
        "logistic sigmoid 1 / (1 + exp(-x))",
        "Rumelhart, Hinton & Williams 1986, Learning representations by back-propagating errors",
    ),
    "softplus": _Simple(
        nn.Softplus,
        "smooth rectifier log(1 + exp(beta * x)) / beta, linear where beta * x > threshold",
        "Dugas, Bengio, Belisle, Nadeau & Garcia 2001, Incorporating second-order functional "
        "knowledge for better option pricing",
        {"beta": POSITIVE, "threshold": POSITIVE},
    ),
    "identity": _Simple(
        nn.Identity,
        "identity f(x) = x (no nonlinearity, for ablations)",
        "standard (no transformation)",
    ),
    "lecun_tanh": _Simple(
        LeCunTanh,
        "scaled tanh 1.7159 tanh(2x/3), so that f(1) = 1 and f(-1) = -1",
        "LeCun, Bottou, Orr & Mueller 1998, Efficient BackProp",
    ),
    "abs": _Simple(
        Abs,
        "absolute-value rectification |x|",
        "Jarrett, Kavukcuoglu, Ranzato & LeCun 2009, What is the best multi-stage "
        "architecture for object recognition?",
    ),
}


def _factory(name: str, entry: _Simple) -> Callable[..., nn.Module]:
    """A factory whose signature is the class's keyword arguments (less ``inplace``),
    checking each argument against its rule before building."""
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in inspect.signature(entry.module).parameters.values()
        if p.kind in keyword and p.name != "inplace"
    ]
    sig = inspect.Signature(params, return_annotation=nn.Module)

    def make(**kwargs: Any) -> nn.Module:
        try:
            bound = sig.bind(**kwargs)
        except TypeError as exc:
            raise ValueError(
                f"act {name}: {exc}; it accepts: {', '.join(sig.parameters)}"
            ) from None
        for arg, value in bound.arguments.items():
            rule = entry.rules.get(arg)
            if rule is not None and not rule[0](value):
                raise ValueError(f"{arg} must be {rule[1]}, got {value!r}")
        return entry.module(**bound.arguments)

    make.__signature__ = sig  # type: ignore[attr-defined]
    make.__name__ = make.__qualname__ = name
    make.__module__ = __name__
    make.__doc__ = entry.description
    return make


def _register_simple() -> None:
    for name, entry in _SIMPLE.items():
        register(
            "act",
            name,
            _factory(name, entry),
            description=entry.description,
            reference=entry.reference,
            example={},
        )


_register_simple()


@register(
    "act",
    "relu",
    description="rectified linear unit max(0, x)",
    reference="Nair & Hinton 2010, Rectified linear units improve restricted Boltzmann machines",
    example={},
)
def relu() -> nn.Module:
    """max(0, x), never in place: autograd may keep the tensor it would overwrite."""
    return nn.ReLU()


@register(
    "act",
    "prelu",
    description="parametric rectifier: x for x > 0, a_c * x otherwise, one learned a_c per channel",
    reference="He, Zhang, Ren & Sun 2015, Delving deep into rectifiers",
    example={},
)
def prelu(in_channels: int, init: float = 0.25) -> nn.Module:
    """A learnable negative slope per channel (per feature after a flatten), from ``init``."""
    if not _is_real(init):
        raise ValueError(f"init must be a finite number (the slopes' start), got {init!r}")
    return nn.PReLU(num_parameters=in_channels, init=float(init))


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
    available = {} if channels is None else {"in_channels": channels}
    return factory(**injectable(factory, available))
