"""Scenario schema, loading, validation and ``--set`` overrides.

A scenario is a YAML file whose keys mirror the system model (``docs/model.md``). Every key has
the model's default, so an empty file is the default scenario. Units are written in the key
names; scenario files use engineering units (GHz, dBm, Mbit) and the simulator converts them to
SI units where it reads them.

Validation is strict about types, so a slip in a file or a ``--set`` never passes silently:

- a boolean key takes only a YAML boolean (``true``, ``false``; PyYAML also reads a bare
  ``yes`` or ``no`` as one), never ``1`` or the text ``"yes"``;
- an integer key takes only an integer: an integral float such as ``20.0`` is rejected too
  (write ``20``), as are ``true`` and ``"20"``;
- a number key takes an integer or a float, never text or a boolean, and must be finite
  after conversion (``1e400`` is infinite and rejected);
- an exponent without a dot (``1e6``) is a float, as in YAML 1.2 (PyYAML alone reads it as
  text).

The one exception is ``quality.resolution_weight``, whose keys may be decimal text (``"512"``)
because JSON, in which run manifests store scenarios, has only text keys.

>>> scenario = load_scenario_dict({"devices": {"count": 5}})
>>> scenario.devices.count, scenario.servers.count
(5, 4)
"""

from __future__ import annotations

import copy
import csv
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edgesim.policies import check_policy

__all__ = [
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "check_policy_key",
    "load_scenario",
    "load_scenario_dict",
    "parse_overrides",
    "parse_yaml",
]

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class ScenarioError(ValueError):
    """A scenario that cannot be loaded: the message is one line naming the key path."""


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False
    )


def _ordered_range(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if low > high:
        raise ValueError(f"low end {low:g} exceeds high end {high:g}")
    return value


def _list_as_tuple(value: Any) -> Any:
    """YAML and JSON write a range as a list; the strict schema reads it as a pair."""
    return tuple(value) if isinstance(value, list) else value


def _decimal_text_as_int(value: Any) -> Any:
    """A JSON object key holding an integer (``"512"``) as that integer."""
    return int(value) if isinstance(value, str) and value.isdecimal() else value


PositiveRange = Annotated[
    tuple[PositiveFloat, PositiveFloat],
    BeforeValidator(_list_as_tuple),
    AfterValidator(_ordered_range),
]
NonNegativeRange = Annotated[
    tuple[NonNegativeFloat, NonNegativeFloat],
    BeforeValidator(_list_as_tuple),
    AfterValidator(_ordered_range),
]
ResolutionKey = Annotated[int, BeforeValidator(_decimal_text_as_int)]


class TraceArrivals(_Section):
    """Replay of arrival times (and optional sizes) from a CSV file."""

    path: str
    time_column: str = "TIMESTAMP"
    size_column: str | None = None
    bits_per_unit: PositiveFloat = 1.0
    time_scale: PositiveFloat = 1.0

    @field_validator("path")
    @classmethod
    def _path_not_empty(cls, path: str) -> str:
        if not path.strip():
            raise ValueError("must name a CSV file")
        return path


class Arrivals(_Section):
    """How devices generate requests."""

    process: Literal["poisson", "trace"] = "poisson"
    rate_per_s: PositiveFloat = 0.05
    trace: TraceArrivals | None = None

    @model_validator(mode="after")
    def _trace_given_when_replayed(self) -> Arrivals:
        if self.process == "trace" and self.trace is None:
            raise ValueError("process 'trace' needs a 'trace' section")
        return self


class Devices(_Section):
    """IoT devices and the requests they make."""

    count: PositiveInt = 20
    arrival: Arrivals = Field(default_factory=Arrivals)
    input_mbit: NonNegativeRange = (0.5, 2.0)
    images: list[PositiveInt] = Field(default_factory=lambda: [1, 2, 4], min_length=1)
    deadline_s: PositiveRange = (5.0, 20.0)
    min_quality: NonNegativeRange = (0.4, 0.8)
    output_mbit_per_image: NonNegativeFloat = 0.8


class Gpu(_Section):
    """The GPU of one edge server."""

    min_ghz: PositiveFloat = 0.6
    max_ghz: PositiveFloat = 1.41
    cycles_per_step: PositiveFloat = 6.5e7
    kappa: PositiveFloat = 8.9e-26
    static_w: NonNegativeFloat = 50.0
    idle_w: NonNegativeFloat = 15.0

    @model_validator(mode="after")
    def _frequency_range(self) -> Gpu:
        _ordered_range((self.min_ghz, self.max_ghz))
        return self


class Cpu(Gpu):
    """The multi-core CPU of one edge server (cycles are core-cycles)."""

    cores: PositiveInt = 32
    min_ghz: PositiveFloat = 1.0
    max_ghz: PositiveFloat = 3.5
    cycles_per_step: PositiveFloat = 1.6e11
    kappa: PositiveFloat = 1e-28
    static_w: NonNegativeFloat = 30.0
    idle_w: NonNegativeFloat = 10.0


class Servers(_Section):
    """Edge servers, one beside each base station, placed on a grid."""

    count: PositiveInt = 4
    gpu: Gpu = Field(default_factory=Gpu)
    cpu: Cpu = Field(default_factory=Cpu)
    overhead_s: NonNegativeFloat = 0.15
    resolution_exponent: NonNegativeFloat = 2.2
    reference_resolution: PositiveInt = 512


class PathLoss(_Section):
    """Log-distance path loss: intercept + slope * log10(d / 1 km), in dB."""

    intercept_db: float = 128.1
    slope_db: PositiveFloat = 37.6
    min_distance_m: PositiveFloat = 10.0


class Radio(_Section):
    """Wireless uplink and downlink."""

    subchannels: PositiveInt = 20
    subchannel_hz: PositiveFloat = 1e6
    noise_dbm_per_hz: float = -174.0
    noise_figure_db: NonNegativeFloat = 9.0
    min_power_dbm: float = 0.0
    max_power_dbm: float = 23.0
    shadowing_std_db: NonNegativeFloat = 8.0
    path_loss: PathLoss = Field(default_factory=PathLoss)
    downlink_mbit_per_s: PositiveFloat = 50.0

    @model_validator(mode="after")
    def _power_range(self) -> Radio:
        _ordered_range((self.min_power_dbm, self.max_power_dbm))
        return self


class Backhaul(_Section):
    """Wired links between base stations; routes are shortest paths in hops."""

    topology: Literal["full_mesh", "ring", "line", "star"] = "full_mesh"
    rate_mbit_per_s: PositiveFloat = 400.0
    hop_latency_s: NonNegativeFloat = 0.002


class Level(_Section):
    """One image-quality level: diffusion steps at a square resolution in pixels."""

    steps: PositiveInt
    resolution: PositiveInt


def _default_levels() -> list[Level]:
    pairs = [(10, 512), (20, 512), (30, 512), (50, 512), (30, 768)]
    return [Level(steps=steps, resolution=resolution) for steps, resolution in pairs]


class Quality(_Section):
    """Quality levels and the quality curve q = min(1, w_r (1 - exp(-S / s0)))."""

    levels: list[Level] = Field(default_factory=_default_levels, min_length=1)
    s0: PositiveFloat = 17.0
    resolution_weight: dict[ResolutionKey, PositiveFloat] = Field(
        default_factory=lambda: {512: 1.0, 768: 1.25}
    )

    @model_validator(mode="after")
    def _every_resolution_weighted(self) -> Quality:
        missing = sorted({lv.resolution for lv in self.levels} - set(self.resolution_weight))
        if missing:
            raise ValueError(f"resolution_weight has no weight for resolution {missing[0]}")
        return self


class Utility(_Section):
    """Weights of the per-request utility."""

    w_quality: NonNegativeFloat = 1.0
    w_latency: NonNegativeFloat = 0.3
    w_energy: NonNegativeFloat = 0.2
    energy_ref_j_per_image: PositiveFloat = 250.0
    fail_penalty: NonNegativeFloat = 1.0


class Cost(_Section):
    """Prices for service-cost reports; zero means no money cost is reported."""

    price_per_kwh: NonNegativeFloat = 0.0
    price_per_gpu_s: NonNegativeFloat = 0.0


class Scheduler(_Section):
    """Decision epochs, the policy, the DVFS rule and late-request dropping."""

    epoch_s: NonNegativeFloat = 0.5
    policy: str = "greedy"
    dvfs: Literal["energy", "max", "deadline"] = "energy"
    drop_late: bool = True
    reward: Literal["delayed", "predicted"] = "delayed"


class Recording(_Section):
    """What the trace recorder keeps."""

    servers_timeseries: bool = True
    row_group_rows: PositiveInt = 8192


class Scenario(_Section):
    """A complete, validated scenario."""

    seed: NonNegativeInt = 1
    duration_s: PositiveFloat = 3600.0
    area_m: PositiveFloat = 500.0
    devices: Devices = Field(default_factory=Devices)
    servers: Servers = Field(default_factory=Servers)
    radio: Radio = Field(default_factory=Radio)
    backhaul: Backhaul = Field(default_factory=Backhaul)
    quality: Quality = Field(default_factory=Quality)
    utility: Utility = Field(default_factory=Utility)
    cost: Cost = Field(default_factory=Cost)
    scheduler: Scheduler = Field(default_factory=Scheduler)
    recording: Recording = Field(default_factory=Recording)
    base_dir: str = Field(default=".", exclude=True)

    def trace_path(self) -> Path | None:
        """The arrival trace file, resolved against the scenario file's folder."""
        trace = self.devices.arrival.trace
        if self.devices.arrival.process != "trace" or trace is None:
            return None
        path = Path(trace.path).expanduser()
        return path if path.is_absolute() else Path(self.base_dir) / path

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved scenario as plain data (YAML and JSON safe)."""
        data = self.model_dump(mode="json")
        trace_path = self.trace_path()
        if trace_path is not None:
            data["devices"]["arrival"]["trace"]["path"] = str(trace_path)
        return data


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"{value!r} ({type(value).__name__})"


_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "text",
}


def _format_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "scenario"
    message = first["msg"].removeprefix("Value error, ")
    kind = first["type"]
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "finite_number":
        message = "must be a finite number"
    elif kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {_describe(first['input'])}"
    return f"{location}: {message}"


def check_policy_key(policy: str, key: str = "scheduler.policy") -> None:
    """Check that ``policy`` is a reference policy name or an existing checkpoint.

    :param key: the key path or option to name in the error (``--policy`` on the CLI).
    :raises ScenarioError: with a one-line message naming ``key``.
    """
    try:
        check_policy(policy)
    except ValueError as error:
        raise ScenarioError(f"{key}: {error}") from None


def _trace_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ScenarioError(f"devices.arrival.trace.path: cannot read {path} ({error})") from None


def _check_trace(scenario: Scenario) -> None:
    """The trace file exists and its header names the configured columns."""
    path = scenario.trace_path()
    if path is None:
        return
    if not path.is_file():
        raise ScenarioError(f"devices.arrival.trace.path: no such file: {path}")
    trace = scenario.devices.arrival.trace
    header = _trace_header(path)
    for key, column in (("time_column", trace.time_column), ("size_column", trace.size_column)):
        if column is not None and column not in header:
            raise ScenarioError(f"devices.arrival.trace.{key}: {path} has no column {column!r}")


def load_scenario_dict(data: dict[str, Any] | None, base_dir: str | Path = ".") -> Scenario:
    """Validate plain scenario data; relative trace paths resolve against ``base_dir``.

    :raises ScenarioError: with a one-line message naming the offending key path.
    """
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ScenarioError("scenario: the file must hold a mapping of keys")
    try:
        scenario = Scenario.model_validate({**data, "base_dir": str(base_dir)})
    except ValidationError as error:
        raise ScenarioError(_format_error(error)) from None
    check_policy_key(scenario.scheduler.policy)
    _check_trace(scenario)
    return scenario


class _ScenarioLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading exponent floats without a dot (``1e6``) as numbers."""


_ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """Parse YAML as scenario files are read: safely, with ``1e6`` a float as in YAML 1.2."""
    return yaml.load(text, Loader=_ScenarioLoader)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings; each value is read as YAML (``--set devices.count=40``)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"--set {pair}: expected KEY=VALUE")
        try:
            overrides[key.strip()] = parse_yaml(text)
        except yaml.YAMLError:
            raise ScenarioError(f"--set {pair}: value is not valid YAML") from None
    return overrides


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``data`` with each dotted key path set to its value."""
    result = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node = result
        parts = dotted.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ScenarioError(f"{'.'.join(parts[: depth + 1])}: is not a section")
            node = child
        node[parts[-1]] = value
    return result


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a scenario file as plain data, with one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file")
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ScenarioError(f"{path}: not valid YAML{where}") from None
    if data is not None and not isinstance(data, dict):
        raise ScenarioError(f"{path}: the file must hold a mapping of keys")
    return data or {}


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load, override and validate a scenario file.

    :param path: a YAML scenario file.
    :param overrides: dotted key paths to values, applied before validation.
    :raises ScenarioError: with a one-line message naming the offending key path.
    """
    data = apply_overrides(read_yaml(path), overrides or {})
    return load_scenario_dict(data, base_dir=Path(path).resolve().parent)
