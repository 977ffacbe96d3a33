"""One simulation run: builds the SimPy processes of a scenario, runs them, writes the trace.

The story of a request, told by the methods from :meth:`Simulation.new_request` to
:meth:`Simulation._delivered`: a device makes it; it waits for the next decision epoch; the
policy picks a server and level and the planner the upload power (:meth:`Simulation.apply`); it
waits for a free sub-channel of its base station and uploads; the backhaul forwards it to the
server; the server fixes its CPU share and frequencies and queues its two parts; once both parts
are done it leaves the server, and after the fixed overhead the result returns over the
backhaul and the downlink. The request then ends as completed, missed, dropped or rejected, and
is written to the trace.

Each step is a SimPy timeout whose callback starts the next one, rather than a process per
request: a process costs two extra events and a generator resume at every step, which made
it the largest single cost of the simulator (``docs/performance.md``).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.metadata
import logging
import math
import platform
import time
from pathlib import Path
from typing import Any

import pandas as pd
import simpy

from edgesim.model.compute import ComputeParams, work_cycles
from edgesim.model.planning import Plan, plan_request
from edgesim.model.quality import quality as level_quality
from edgesim.model.radio import RadioParams
from edgesim.model.utility import UtilityParams, utility
from edgesim.policies import Decision, ModelView, Observation, Policy, make_policy
from edgesim.scenario import Scenario
from edgesim.sim.devices import PoissonDevice, load_trace, trace_source
from edgesim.sim.random import RandomStreams
from edgesim.sim.recorder import Recorder, publish, write_json
from edgesim.sim.request import Request
from edgesim.sim.scheduler import Scheduler
from edgesim.sim.server import EdgeServer, ServerBoard
from edgesim.sim.topology import Topology
from edgesim.sim.uplink import Uplink

__all__ = ["Result", "Simulation"]

NAN = math.nan

logger = logging.getLogger(__name__)

_PROGRESS_STEPS = 200
# While a run advances, the youngest generation of Python's garbage collector is collected
# after this many allocations instead of 700: a request's objects outlive hundreds of
# allocations, so frequent collections examine them again and again (docs/performance.md).
_YOUNG_GENERATION_ALLOCATIONS = 20_000


class Simulation:
    """A scenario, a policy and a seed, ready to run.

    :param scenario: a validated :class:`~edgesim.scenario.Scenario`.
    :param policy: a policy name, a trained checkpoint path, a :class:`Policy`, or ``None``
        for the scenario's ``scheduler.policy``. The Gymnasium environment passes
        ``external=True`` instead and decides itself.
    :param seed: the run's seed; ``None`` takes the scenario's ``seed``.

    Two simulations share nothing, so several may run in one process.
    """

    def __init__(
        self,
        scenario: Scenario,
        policy: str | Policy | None = None,
        seed: int | None = None,
        external: bool = False,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        spec = scenario.scheduler.policy if policy is None else policy
        self.policy_name = spec.name if isinstance(spec, Policy) else str(spec)
        self.policy = None if external else make_policy(spec)
        self.ended_utility = 0.0
        self.ended_count = 0
        self._build()

    def _build(self) -> None:
        scenario = self.scenario
        self.env = env = simpy.Environment()
        self.streams = RandomStreams(self.seed)
        self.topology = Topology.build(scenario, self.streams.placement)
        self.compute = ComputeParams.from_scenario(scenario.servers)
        self.radio = RadioParams.from_scenario(scenario.radio)
        self.utility_params = UtilityParams.from_scenario(scenario.utility)
        self.model = self._model_view()
        self.recorder = Recorder(
            scenario.recording.row_group_rows, scenario.recording.servers_timeseries
        )
        self.board = ServerBoard(scenario.servers.count)
        self.servers = [
            EdgeServer(
                env,
                index,
                self.compute,
                scenario.scheduler.dvfs,
                scenario.scheduler.drop_late,
                self.board,
                self.recorder.server_series().record
                if scenario.recording.servers_timeseries
                else None,
                self._left_server,
            )
            for index in range(scenario.servers.count)
        ]
        for server in self.servers:
            server.record_state(env.now)
        self.uplinks = [Uplink(scenario.radio.subchannels) for _ in self.servers]
        self.live: dict[int, Request] = {}
        self._next_id = 0
        self._hops = self.topology.hops.tolist()
        self._backhaul_bps = scenario.backhaul.rate_mbit_per_s * 1e6
        self._hop_latency_s = scenario.backhaul.hop_latency_s
        self._output_bits_per_image = scenario.devices.output_mbit_per_image * 1e6
        self._downlink_bps = scenario.radio.downlink_mbit_per_s * 1e6
        self._return_s_cache: dict[tuple[int, int], list[float]] = {}
        self._dvfs = scenario.scheduler.dvfs
        self._drop_late = scenario.scheduler.drop_late
        self._predicts_utility = scenario.scheduler.reward == "predicted"
        self._device_station = self.topology.device_station.tolist()
        devices = scenario.devices
        # Each range as (low, high - low), to scale a uniform draw.
        self._input_mbit_range = _low_width(devices.input_mbit)
        self._deadline_range_s = _low_width(devices.deadline_s)
        self._min_quality_range = _low_width(devices.min_quality)
        self._image_counts = list(devices.images)
        self._station_gain_db = (
            self.topology.shadowing_db[:, None] - self.topology.path_loss_db
        ).tolist()
        # Each device's mean gain to its own base station, as a plain ratio.
        self._own_station_gain = [
            10.0 ** (gains_db[station] / 10.0)
            for gains_db, station in zip(self._station_gain_db, self._device_station, strict=True)
        ]
        self.scheduler = Scheduler(
            env, self.policy, scenario.scheduler.epoch_s, self.observe, self.apply
        )
        if self.policy is not None:
            self.policy.reset(self.model, self.streams.policy)
        self._start_sources()

    def _model_view(self) -> ModelView:
        quality_section = self.scenario.quality
        works = [
            work_cycles(level.steps, level.resolution, 1, self.compute)
            for level in quality_section.levels
        ]
        return ModelView(
            n_servers=self.scenario.servers.count,
            level_steps=tuple(level.steps for level in quality_section.levels),
            level_quality=tuple(
                level_quality(
                    level.steps,
                    quality_section.resolution_weight[level.resolution],
                    quality_section.s0,
                )
                for level in quality_section.levels
            ),
            level_work_gpu=tuple(w[0] for w in works),
            level_work_cpu=tuple(w[1] for w in works),
            compute=self.compute,
            radio=self.radio,
            dvfs=self.scenario.scheduler.dvfs,
        )

    def _start_sources(self) -> None:
        arrival = self.scenario.devices.arrival
        count = self.scenario.devices.count
        if arrival.process == "trace":
            trace = load_trace(self.scenario.trace_path(), arrival.trace)
            span_s = float(trace.times_s[-1])
            if span_s < self.scenario.duration_s:
                logger.warning(
                    "the arrival trace spans %.0f s, less than duration_s=%.0f s: no arrivals "
                    "after it ends (lower time_scale or duration_s)",
                    span_s,
                    self.scenario.duration_s,
                )
            self.env.process(
                trace_source(self.env, trace, count, self.streams.arrivals, self.new_request)
            )
            return
        for device in range(count):
            PoissonDevice(
                self.env, device, arrival.rate_per_s, self.streams.arrivals, self.new_request
            )

    def new_request(self, device: int, input_bits: float | None) -> None:
        """A device makes a request now; its attributes are drawn from the scenario."""
        station = self._device_station[device]
        # The request's uniform draws in one call, each scaled to its range here.
        if input_bits is None:
            draw_input, draw_images, draw_deadline, draw_quality = self.streams.requests.uniforms(4)
            low, width = self._input_mbit_range
            input_bits = (low + width * draw_input) * 1e6
        else:
            draw_images, draw_deadline, draw_quality = self.streams.requests.uniforms(3)
        counts = self._image_counts
        images = counts[min(int(draw_images * len(counts)), len(counts) - 1)]
        low, width = self._deadline_range_s
        deadline_s = low + width * draw_deadline
        low, width = self._min_quality_range
        min_quality = low + width * draw_quality
        fading = self.streams.fading.exponential()
        gain = self._own_station_gain[device] * fading
        now = self.env.now
        request = Request(
            self._next_id,
            device,
            station,
            now,
            now + deadline_s,
            images,
            input_bits,
            min_quality,
            gain,
        )
        self._next_id += 1
        self.live[request.request_id] = request
        self.scheduler.submit(request)

    def _hop_s(self, bits: float) -> float:
        """Time to carry ``bits`` over one backhaul hop."""
        return bits / self._backhaul_bps + self._hop_latency_s

    def _forward_times_s(self, request: Request) -> list[float]:
        """Backhaul time of the request's input from its base station to each server."""
        hop_s = self._hop_s(request.input_bits)
        return [hops * hop_s for hops in self._hops[request.base_station]]

    def _return_times_s(self, request: Request) -> list[float]:
        """Time for the result to go from each server back to the device."""
        key = (request.base_station, request.images)
        times_s = self._return_s_cache.get(key)
        if times_s is None:
            output_bits = request.images * self._output_bits_per_image
            hop_s = self._hop_s(output_bits)
            downlink_s = output_bits / self._downlink_bps
            times_s = self._return_s_cache[key] = [
                hops * hop_s + downlink_s for hops in self._hops[request.base_station]
            ]
        return times_s

    def observe(self, request: Request, epoch_remaining: int) -> Observation:
        """The observation of one waiting request and all servers, now."""
        now = self.env.now
        board = self.board
        return Observation(
            now,
            request.request_id,
            request.arrival,
            request.images,
            request.input_bits,
            request.deadline,
            request.min_quality,
            request.base_station,
            request.gain,
            self._station_gain_db[request.device],
            [free_s if free_s > now else now for free_s in board.cpu_reserved_s],
            [free_s if free_s > now else now for free_s in board.gpu_reserved_s],
            board.cpu_queue[:],
            board.gpu_queue[:],
            board.in_system[:],
            board.cpu_ghz[:],
            board.gpu_ghz[:],
            self._forward_times_s(request),
            self._return_times_s(request)[:],
            epoch_remaining,
            self.model,
        )

    def apply(self, request: Request, decision: Decision, observation: Observation) -> None:
        """Carry out a policy's decision for a request, given the observation it was made on
        (whose backhaul times it takes; the servers' state is read afresh)."""
        now = request.decided = self.env.now
        server_index, level_index = decision.server, decision.level
        if server_index < 0:
            request.predicted_utility = -self.utility_params.fail_penalty
            self._end(request, "rejected")
            return
        model = self.model
        if not (server_index < model.n_servers and 0 <= level_index < len(model.level_steps)):
            raise ValueError(f"policy decided an unknown server or level: {decision}")
        server = self.servers[server_index]
        request.server = server_index
        request.level = level_index
        request.steps = model.level_steps[level_index]
        request.quality = model.level_quality[level_index]
        request.work_gpu = model.level_work_gpu[level_index] * request.images
        request.work_cpu = model.level_work_cpu[level_index] * request.images
        request.use_cpu = decision.use_cpu
        request.dvfs = decision.dvfs or self._dvfs
        request.forward_s = observation.forward_s[server_index]
        request.return_s = observation.return_s[server_index]
        cpu_free_s, gpu_free_s = server.predicted_free_s(now)
        plan = plan_request(
            now,
            request.input_bits,
            request.gain,
            self.radio,
            request.forward_s,
            cpu_free_s,
            gpu_free_s,
            request.work_gpu,
            request.work_cpu,
            self.compute,
            request.deadline,
            request.return_s,
            request.dvfs,
            request.use_cpu,
        )
        server.reserve(plan.cpu_end_s, plan.gpu_end_s)
        request.tx_power_w = plan.power_w
        request.upload_s = plan.upload_s
        request.known_split = plan.known_split
        if self._predicts_utility:
            request.predicted_utility = self._predicted_utility(request, plan)
        self._dispatch(request)

    def _predicted_utility(self, request: Request, plan: Plan) -> float:
        """The utility the plan predicts, for learning with an immediate reward (computed
        only when the scenario's ``scheduler.reward`` is ``predicted``)."""
        latency_s = plan.finish_s + self.compute.overhead_s + request.return_s - request.arrival
        if (
            not plan.feasible
            or request.arrival + latency_s > request.deadline
            or request.quality < request.min_quality
        ):
            return -self.utility_params.fail_penalty
        return utility(
            request.quality,
            latency_s,
            request.deadline - request.arrival,
            plan.energy_tx_j + plan.energy_compute_j,
            request.images,
            self.utility_params,
        )

    def _dispatch(self, request: Request) -> None:
        """Send a decided request on its way: upload, then the backhaul, to its server.

        The upload's sub-channel and start are known now (``sim/uplink.py``), so one timeout
        carries the request to its server: the wait for a sub-channel, the upload and the
        forwarding. A request whose upload could start only after its deadline is dropped
        then, without taking a sub-channel (with ``drop_late``).
        """
        env = self.env
        now = env.now
        if request.input_bits <= 0.0:
            request.upload_start = request.upload_end = now
            self._forward(request)
            return
        uplink = self.uplinks[request.base_station]
        start_s = uplink.start_s(now)
        if self._drop_late and start_s > request.deadline:
            env.timeout(start_s - now, request).callbacks.append(self._dropped_before_upload)
            return
        uplink.hold(start_s, request.upload_s)
        request.upload_start = start_s
        request.upload_end = start_s + request.upload_s
        request.energy_tx_j = request.tx_power_w * request.upload_s
        # The arrival as an absolute time, as a chain of timeouts would compute it; the delay
        # to it then lands on it exactly whenever it is shorter than the time elapsed since
        # the start of the run (Sterbenz), and within one rounding otherwise.
        server_arrival_s = request.upload_end + request.forward_s
        env.timeout(server_arrival_s - now, request).callbacks.append(self._reach_server)

    def _dropped_before_upload(self, event: simpy.Event) -> None:
        self._end(event.value, "dropped")

    def _forward(self, request: Request) -> None:
        """Carry the input over the backhaul to the server (no time when it is local)."""
        if request.forward_s > 0.0:
            self.env.timeout(request.forward_s, request).callbacks.append(self._reach_server)
        else:
            self._admit(request)

    def _reach_server(self, event: simpy.Event) -> None:
        self._admit(event.value)

    def _admit(self, request: Request) -> None:
        now = request.server_arrival = self.env.now
        self.servers[request.server].admit(request, now)

    def _left_server(self, request: Request, computed: bool) -> None:
        """The server is done with the request: the result returns after the overhead."""
        if not computed:
            self._end(request, "dropped")
            return
        delay_s = self.compute.overhead_s + request.return_s
        self.env.timeout(delay_s, request).callbacks.append(self._delivered)

    def _delivered(self, event: simpy.Event) -> None:
        request: Request = event.value
        request.finish = self.env.now
        request.latency = request.finish - request.arrival
        on_time = request.finish <= request.deadline
        self._end(
            request, "completed" if on_time and request.quality >= request.min_quality else "missed"
        )

    def _end(self, request: Request, outcome: str) -> None:
        request.outcome = outcome
        request.ended = True
        if outcome == "completed":
            request.utility = utility(
                request.quality,
                request.latency,
                request.deadline - request.arrival,
                request.energy_j,
                request.images,
                self.utility_params,
            )
        else:
            request.utility = -self.utility_params.fail_penalty
        self.ended_utility += request.utility
        self.ended_count += 1
        del self.live[request.request_id]
        self.recorder.record_request(request)

    def run(self, progress: bool = False, out: str | Path | None = None) -> Result:
        """Run to ``duration_s`` and return the result (saved to ``out`` when given)."""
        started = time.perf_counter()
        self.advance(self.scenario.duration_s, progress)
        result = self.finish(time.perf_counter() - started)
        if out is not None:
            result.save(out)
        return result

    def advance(self, until_s: float, progress: bool = False) -> None:
        """Run the processes up to simulated time ``until_s``.

        Meanwhile the garbage collector's youngest generation is collected less often
        (process-wide; the thresholds are restored on return).
        """
        with _rarer_young_collections():
            if progress:
                self._advance_with_progress(until_s)
            else:
                self.env.run(until=until_s)

    def _advance_with_progress(self, until_s: float) -> None:
        from tqdm import tqdm

        step_s = until_s / _PROGRESS_STEPS
        with tqdm(total=round(until_s), unit="sim s", desc=self.policy_name) as bar:
            for step in range(1, _PROGRESS_STEPS + 1):
                self.env.run(until=step * step_s)
                bar.n = round(self.env.now)
                bar.set_postfix(requests=self._next_id, refresh=False)
                bar.refresh()

    def finish(self, wall_s: float) -> Result:
        """Record the requests still in the system as pending and close the trace."""
        now = self.env.now
        for request in list(self.live.values()):
            _forget_upload_after(request, now)
            self.recorder.record_request(request)
        self.live.clear()
        for server in self.servers:
            server.record_state(self.env.now)
        self.recorder.close()
        summary = self._summary(wall_s)
        manifest = self._manifest()
        write_json(self.recorder.folder / "summary.json", summary)
        write_json(self.recorder.folder / "manifest.json", manifest)
        logger.info(
            "%s: %d requests, %d completed, mean utility %.3f in %.1f s",
            self.policy_name,
            summary["requests"],
            summary["completed"],
            summary["mean_utility"],
            wall_s,
        )
        return Result(self.recorder, summary, manifest)

    def _server_energy_j(self) -> tuple[float, float]:
        now = self.env.now
        static_j = idle_j = 0.0
        units = ((self.scenario.servers.cpu, "cpu"), (self.scenario.servers.gpu, "gpu"))
        for server in self.servers:
            for section, name in units:
                busy_s = getattr(server, name).busy_time_s()
                static_j += section.static_w * busy_s
                idle_j += section.idle_w * (now - busy_s)
        return static_j, idle_j

    def _summary(self, wall_s: float) -> dict[str, Any]:
        recorder = self.recorder
        outcomes = recorder.outcomes
        total = sum(outcomes.values())
        ended = total - outcomes["pending"]
        latencies = pd.Series(recorder.latencies_s, dtype=float)
        static_j, idle_j = self._server_energy_j()
        request_energy_j = recorder.energy_tx_j + recorder.energy_cpu_j + recorder.energy_gpu_j
        return {
            "requests": total,
            **outcomes,
            "deadline_hit_ratio": outcomes["completed"] / ended if ended else math.nan,
            "mean_latency_s": float(latencies.mean()) if len(latencies) else math.nan,
            "p95_latency_s": float(latencies.quantile(0.95)) if len(latencies) else math.nan,
            "mean_utility": recorder.total_utility / ended if ended else math.nan,
            "total_utility": recorder.total_utility,
            "total_energy_j": request_energy_j + static_j + idle_j,
            "energy_tx_j": recorder.energy_tx_j,
            "energy_cpu_j": recorder.energy_cpu_j,
            "energy_gpu_j": recorder.energy_gpu_j,
            "energy_static_j": static_j,
            "energy_idle_j": idle_j,
            "mean_quality": (
                recorder.total_quality / outcomes["completed"]
                if outcomes["completed"]
                else math.nan
            ),
            "simulated_s": self.env.now,
            "wall_s": wall_s,
            "requests_per_wall_s": total / wall_s if wall_s > 0 else math.nan,
        }

    def _manifest(self) -> dict[str, Any]:
        scenario = self.scenario.to_dict()
        scenario["seed"] = self.seed
        return {
            "scenario": scenario,
            "seed": self.seed,
            "policy": self.policy_name,
            "versions": _versions(),
        }


@contextlib.contextmanager
def _rarer_young_collections():
    """Raise the collection threshold of the youngest generation for a while."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _YOUNG_GENERATION_ALLOCATIONS), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _forget_upload_after(request: Request, now: float) -> None:
    """Clear the upload times a pending request was given in advance that lie after ``now``
    (a request still waiting for a sub-channel has not spent its transmit energy either)."""
    if request.upload_start > now:
        request.upload_start = NAN
        request.energy_tx_j = 0.0
    if request.upload_end > now:
        request.upload_end = NAN


def _low_width(bounds: tuple[float, float]) -> tuple[float, float]:
    low, high = bounds
    return low, high - low


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("edgesim", "simpy", "numpy", "pandas", "pyarrow", "torch"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


class Result:
    """The outcome of a run: its summary in memory and its trace files.

    ``requests`` and ``servers`` are read from the trace on first use. Call :meth:`save` to
    keep the run folder; otherwise its staging copy is removed once the result (and its
    simulation) are released.
    """

    def __init__(self, recorder: Recorder, summary: dict[str, Any], manifest: dict) -> None:
        self.folder = recorder.folder
        self.summary = summary
        self.manifest = manifest
        self._requests: pd.DataFrame | None = None
        self._servers: pd.DataFrame | None = None
        self._recorder = recorder

    @property
    def requests(self) -> pd.DataFrame:
        """One row per request, sorted by ``request_id``."""
        if self._requests is None:
            table = pd.read_parquet(self.folder / "requests.parquet")
            self._requests = table.sort_values("request_id", ignore_index=True)
        return self._requests

    @property
    def servers(self) -> pd.DataFrame:
        """The servers' state time series (empty when not recorded)."""
        if self._servers is None:
            path = self.folder / "servers.parquet"
            self._servers = pd.read_parquet(path) if path.exists() else pd.DataFrame()
        return self._servers

    def save(self, path: str | Path) -> Path:
        """Write the run folder to ``path`` atomically, replacing an older run there."""
        return publish(self.folder, Path(path))
