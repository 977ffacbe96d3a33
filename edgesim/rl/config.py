"""Hyperparameters of the HSAC-IC agent and its two ablations.

Every default is justified in ``docs/hsac.md``; the comment on each field says what the field
controls and, briefly, where its default comes from. :func:`config_from_overrides` builds a
config from ``KEY=VALUE`` strings, checked against the fields' types (``edgesim train
--config``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, get_origin, get_type_hints

import yaml

from edgesim.rl.algos import HSAC_VARIANTS, Variant
from edgesim.scenario import parse_yaml

__all__ = ["HSACConfig", "config_differences", "config_from_overrides", "parse_config_overrides"]


@dataclass(frozen=True)
class HSACConfig:
    """Typed, immutable bundle of every HSAC-IC hyperparameter.

    ``variant`` selects the algorithm built from the same code: ``"hsac-ic"`` (hierarchical
    policy with the intrinsic curiosity module), ``"hsac"`` (hierarchical, no curiosity) or
    ``"sac"`` (one flat categorical policy over all (server, level) pairs, one temperature).
    """

    variant: Variant = "hsac-ic"
    """Algorithm to build; see the class docstring."""

    hidden_sizes: tuple[int, ...] = (128, 128)
    """Hidden widths shared by the policy and critic MLPs. Two layers of 128 units keep a
    gradient step at 5 to 10 ms on one thread of the busy 2-core reference machine, and match
    the size used in the discrete SAC experiments of Christodoulou (2019) for low-dimensional
    inputs."""

    actor_lr: float = 3e-4
    """Adam step size of the policies (Haarnoja et al. 2018, SAC, table of hyperparameters)."""

    critic_lr: float = 3e-4
    """Adam step size of the twin critics (Haarnoja et al. 2018)."""

    alpha_lr: float = 3e-4
    """Adam step size of each log-temperature (Haarnoja et al. 2018, "SAC algorithms and
    applications")."""

    gamma: float = 0.99
    """Discount per decision. Rewards arrive several decisions after the action that earned
    them, so the horizon must span an epoch's worth of decisions (1 / (1 - 0.99) = 100)."""

    tau: float = 0.005
    """Polyak coefficient of the target critics, target <- tau * online + (1 - tau) * target
    (Haarnoja et al. 2018)."""

    batch_size: int = 128
    """Transitions per gradient step. Half of SAC's 256, to save CPU time; the networks are
    small."""

    buffer_size: int = 100_000
    """Capacity of the replay ring, in transitions."""

    learning_starts: int = 1_000
    """Transitions stored before the first gradient step, so early batches are diverse."""

    update_every: int = 4
    """Environment steps between two calls to :meth:`HSACAgent.update` (read by the trainer
    through :meth:`HSACAgent.wants_update`). Four, as in DQN-style discrete agents (Mnih et
    al. 2015; Christodoulou 2019 on Atari): on the 2-core reference machine one gradient step
    costs 5 to 10 ms, the time of about 40 to 90 environment steps (``docs/learning.md``,
    Speed), so an update per decision would bound training to little more than 100 steps/s
    without a matching gain on this slowly varying problem."""

    gradient_steps: int = 1
    """Gradient steps performed by one call to :meth:`HSACAgent.update`."""

    target_entropy_ratio_hi: float = 0.5
    """Target entropy of the server policy as a fraction of log(number of valid servers).
    Christodoulou (2019) uses 0.98 of the maximum; Xu et al. (2021) and Zhou et al. (2022)
    report that such a high target keeps the policy near uniform, so a middle value is used."""

    target_entropy_ratio_lo: float = 0.5
    """Target entropy of the level policy as a fraction of log(number of valid levels of the
    chosen server), averaged under the server policy."""

    target_entropy_ratio_flat: float = 0.5
    """Target entropy of the flat ``"sac"`` policy as a fraction of log(number of valid pairs)."""

    initial_alpha: float = 0.1
    """Starting value of every temperature. One request's utility lies roughly in [-1, 1]; a
    delayed reward sums the requests that ended since the previous decision, so it is often 0
    and sometimes several units (from about -6 to 2 under random masked decisions on the
    default scenario). An entropy bonus of about 0.1 nat-weight keeps exploration without
    swamping these rewards, and tuning adjusts it anyway."""

    icm_feature_dim: int = 32
    """Width of the curiosity encoder's output phi(s)."""

    icm_hidden_size: int = 64
    """Hidden width of the curiosity encoder, inverse and forward models."""

    icm_lr: float = 1e-3
    """Adam step size of the curiosity module (Pathak et al. 2017 use 1e-3)."""

    icm_beta: float = 0.2
    """Weight of the forward loss in (1 - beta) * inverse + beta * forward (Pathak et al.
    2017)."""

    eta_start: float = 0.1
    """Intrinsic-reward coefficient at the first environment step. The normalised forward
    error averages 1, so 0.1 makes curiosity a tenth of a typical extrinsic reward."""

    eta_end: float = 0.0
    """Intrinsic-reward coefficient after ``eta_decay_steps``; zero so that late training
    optimises the extrinsic utility alone, the quantity used in evaluation."""

    eta_decay_steps: int = 100_000
    """Environment steps over which eta falls linearly from ``eta_start`` to ``eta_end``."""

    intrinsic_scale_momentum: float = 0.99
    """Momentum of the exponential running mean of the forward error that normalises the
    intrinsic reward (about a 100-update memory)."""

    def __post_init__(self) -> None:
        """Reject values that would make training silently meaningless."""
        if self.variant not in HSAC_VARIANTS:
            raise ValueError(f"variant must be one of {HSAC_VARIANTS}, got {self.variant!r}")
        _check_range("gamma", self.gamma, 0.0, 1.0, closed_high=False)
        _check_range("tau", self.tau, 0.0, 1.0, closed_low=False)
        _check_range("intrinsic_scale_momentum", self.intrinsic_scale_momentum, 0.0, 1.0)
        _check_range("icm_beta", self.icm_beta, 0.0, 1.0)
        for name in ("target_entropy_ratio_hi", "target_entropy_ratio_lo"):
            _check_range(name, getattr(self, name), 0.0, 1.0)
        _check_range("target_entropy_ratio_flat", self.target_entropy_ratio_flat, 0.0, 1.0)
        for name in ("batch_size", "buffer_size", "update_every", "gradient_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size > self.buffer_size:
            raise ValueError("batch_size must not exceed buffer_size")
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"hidden_sizes must be positive widths, got {self.hidden_sizes}")
        if self.initial_alpha <= 0.0:
            raise ValueError(f"initial_alpha must be > 0, got {self.initial_alpha}")
        if min(self.eta_start, self.eta_end) < 0.0:
            raise ValueError("eta_start and eta_end must be >= 0")

    @property
    def hierarchical(self) -> bool:
        """True for the two-level variants ``"hsac-ic"`` and ``"hsac"``."""
        return self.variant != "sac"

    @property
    def curiosity(self) -> bool:
        """True when the intrinsic curiosity module is used (``"hsac-ic"``)."""
        return self.variant == "hsac-ic"

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as plain Python values (used by checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HSACConfig:
        """Rebuild a config from :meth:`to_dict` output, ignoring unknown keys."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in known}
        if "hidden_sizes" in kwargs:
            kwargs["hidden_sizes"] = tuple(kwargs["hidden_sizes"])
        return cls(**kwargs)

    def eta_at(self, env_steps: int) -> float:
        """Intrinsic coefficient after ``env_steps`` environment steps (linear decay)."""
        if self.eta_decay_steps <= 0:
            return self.eta_end
        frac = min(env_steps / self.eta_decay_steps, 1.0)
        return self.eta_start + frac * (self.eta_end - self.eta_start)


def _check_range(
    name: str,
    value: float,
    low: float,
    high: float,
    closed_low: bool = True,
    closed_high: bool = True,
) -> None:
    """Raise ValueError unless ``low <= value <= high`` (ends open where asked)."""
    above = value >= low if closed_low else value > low
    below = value <= high if closed_high else value < high
    if not (above and below):
        raise ValueError(f"{name}={value} is outside [{low}, {high}]")


def parse_config_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """Typed :class:`HSACConfig` field values from ``KEY=VALUE`` strings, values read as YAML.

    ``batch_size=64``, ``hidden_sizes=[64, 64]`` and ``critic_lr=1e-3`` are read as an
    integer, a tuple of integers and a number. ``variant`` cannot be set this way: it is the
    training algo.

    :raises ValueError: a malformed pair, an unknown field or a value of the wrong type (one
        line, naming the field).
    """
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"config {pair!r}: expected KEY=VALUE")
        try:
            value = parse_yaml(text)
        except yaml.YAMLError:
            raise ValueError(f"config {key}: {text!r} is not valid YAML") from None
        values[key] = _typed_value(key, value)
    return values


def config_from_overrides(algo: str, pairs: Sequence[str]) -> HSACConfig | None:
    """The default config of ``algo`` with the ``KEY=VALUE`` overrides applied, or ``None``
    when there are none (the trainer then uses the defaults, or a resumed run's own config).

    :raises ValueError: overrides for an algo that has no HSAC config, or bad overrides.
    """
    if not pairs:
        return None
    if algo not in HSAC_VARIANTS:
        raise ValueError(
            f"config overrides set HSAC hyperparameters; {algo} has none "
            f"(they apply to {', '.join(HSAC_VARIANTS)})"
        )
    values = parse_config_overrides(pairs)
    return HSACConfig.from_dict({**HSACConfig(variant=algo).to_dict(), **values})


def config_differences(wanted: HSACConfig, found: HSACConfig) -> list[str]:
    """``name=found (not wanted)`` for each field where two configs differ."""
    asked, held = wanted.to_dict(), found.to_dict()
    return [
        f"{name}={held[name]!r} (not {asked[name]!r})"
        for name in asked
        if asked[name] != held[name]
    ]


def _typed_value(name: str, value: Any) -> Any:
    """``value`` converted to the type of field ``name``; ValueError when it cannot be."""
    hints = get_type_hints(HSACConfig)
    if name == "variant":
        raise ValueError("config variant: the variant is the training algo, not an override")
    if name not in hints:
        raise ValueError(f"config {name}: {_unknown_field_hint(name, hints)}")
    hint = hints[name]
    converted = _as_type(hint, value)
    if converted is None:
        expected = _TYPE_NAMES.get(hint, "a list of integers such as [128, 128]")
        raise ValueError(f"config {name}: expected {expected}, got {value!r}")
    return converted


_TYPE_NAMES = {int: "an integer", float: "a number"}


def _as_type(hint: Any, value: Any) -> Any:
    """``value`` as an ``int``, a ``float`` or a ``tuple[int, ...]``, or ``None`` if it is not
    one (booleans are never numbers here; a whole float such as ``1e5`` is an integer)."""
    if isinstance(value, bool):
        return None
    if hint is float and isinstance(value, int | float):
        return float(value)
    if hint is int and isinstance(value, int):
        return value
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if get_origin(hint) is tuple and isinstance(value, list) and value:
        items = [_as_type(int, item) for item in value]
        return None if None in items else tuple(items)
    return None


def _unknown_field_hint(name: str, hints: dict[str, Any]) -> str:
    """Say that ``name`` is no field and suggest the closest, or list them all."""
    close = difflib.get_close_matches(name, list(hints), n=1)
    if close:
        return f"no such HSAC hyperparameter (did you mean {close[0]}?)"
    known = sorted(set(hints) - {"variant"})
    return f"no such HSAC hyperparameter (known: {', '.join(known)})"
