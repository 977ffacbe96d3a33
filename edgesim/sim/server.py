"""Edge servers: a CPU queue and a GPU queue, FCFS, serving the two parts of each request.

When a request reaches its server, the DVFS rule fixes its CPU share and both frequencies
(:func:`edgesim.model.planning.allocate`); its CPU part and GPU part then join their units'
queues (fork) and the request is done computing when both are (join), at which point the
server hands it back to the simulation through its ``done`` callback. Since every part's
duration is fixed when it joins a FCFS queue, each unit knows exactly when its queued work ends
(``tail_s``), which is what the next request's allocation plans around.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import simpy

from edgesim.model.compute import ComputeParams
from edgesim.model.planning import allocate
from edgesim.sim.request import Request

__all__ = ["ComputeUnit", "EdgeServer", "ServerBoard"]


class ServerBoard:
    """What a decision reads of every server, one list slot per server.

    The servers write their slots as their state changes, so an observation copies a few
    lists instead of asking each server in turn (the observation is built for every request).
    ``*_reserved_s`` are the predicted free times of each unit counting requests decided for
    the server but still on their way; ``*_queue`` count the parts waiting (not in service);
    ``*_ghz`` are the frequencies of the parts in service (0 when idle).
    """

    def __init__(self, count: int) -> None:
        self.in_system = [0] * count
        self.cpu_queue = [0] * count
        self.gpu_queue = [0] * count
        self.cpu_ghz = [0.0] * count
        self.gpu_ghz = [0.0] * count
        self.cpu_reserved_s = [0.0] * count
        self.gpu_reserved_s = [0.0] * count


class ComputeUnit:
    """One processing unit (the CPU or the GPU of a server) and its FCFS queue.

    The unit is driven by SimPy events: a part starts when it reaches the head of the queue,
    and the timeout that ends it starts the next. No process is needed to wait while idle, so
    an idle unit costs no events.
    """

    def __init__(
        self, env: simpy.Environment, server: EdgeServer, is_cpu: bool, board: ServerBoard
    ) -> None:
        self.env = env
        self.server = server
        self.is_cpu = is_cpu
        self.slot = server.index
        self.queue_lengths = board.cpu_queue if is_cpu else board.gpu_queue
        self.ghz = board.cpu_ghz if is_cpu else board.gpu_ghz
        self.queue: deque[tuple[Request, float]] = deque()
        self.busy = False
        self.tail_s = 0.0
        self.busy_s = 0.0
        self.part_start_s = 0.0
        self._in_service: tuple[Request, float] | None = None

    def busy_time_s(self) -> float:
        """Seconds spent serving parts so far, the part in service included."""
        if self.busy:
            return self.busy_s + self.env.now - self.part_start_s
        return self.busy_s

    def free_at_s(self, now: float) -> float:
        """When the unit will have finished every part queued so far (``now`` at the
        earliest)."""
        return self.tail_s if self.tail_s > now else now

    def submit(self, request: Request, duration_s: float, now: float) -> None:
        """Queue a request's part for ``duration_s`` seconds of service."""
        self.tail_s = self.free_at_s(now) + duration_s
        self.queue.append((request, duration_s))
        if self.busy:
            self.queue_lengths[self.slot] = len(self.queue)
        else:
            self._start_next(now)

    def _start_next(self, now: float) -> None:
        """Serve the next part whose request is still wanted; drop late ones on the way."""
        server = self.server
        queue = self.queue
        while queue:
            request, duration_s = queue.popleft()
            if request.ended or (server.drop_late and now > request.deadline):
                self.tail_s -= duration_s
                server.drop(request, now)
                continue
            self.busy = True
            self.part_start_s = now
            self.queue_lengths[self.slot] = len(queue)
            self.ghz[self.slot] = request.cpu_ghz if self.is_cpu else request.gpu_ghz
            self._in_service = (request, duration_s)
            server.part_started(request, self.is_cpu, now)
            self.env.timeout(duration_s).callbacks.append(self._finish_part)
            return
        self.queue_lengths[self.slot] = 0

    def _finish_part(self, _event: simpy.Event) -> None:
        now = self.env.now
        request, duration_s = self._in_service
        self._in_service = None
        self.busy_s += duration_s
        self.busy = False
        self.ghz[self.slot] = 0.0
        self.server.part_done(request, now)
        self._start_next(now)
        self.server.record_state(now)


class EdgeServer:
    """A server with a CPU and a GPU, its requests, and the reservations used to predict.

    The server keeps its slot of the ``board`` up to date. ``record(row)`` receives each
    change of state as a row ``(time_s, index, in system, CPU queue, GPU queue, CPU busy,
    GPU busy)`` (``None`` records nothing); ``done(request, computed)`` is called when a
    request leaves the server, with ``computed`` False when it was dropped.
    """

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        params: ComputeParams,
        dvfs: str,
        drop_late: bool,
        board: ServerBoard,
        record: Callable[[tuple], None] | None,
        done: Callable[[Request, bool], None],
    ) -> None:
        self.env = env
        self.index = index
        self.params = params
        self.dvfs = dvfs
        self.drop_late = drop_late
        self.board = board
        self._record = record
        self._done = done
        self.cpu = ComputeUnit(env, self, True, board)
        self.gpu = ComputeUnit(env, self, False, board)

    def record_state(self, now: float) -> None:
        """Append the state at ``now`` to the servers' time series: ``(time, server, *state)``."""
        if self._record is not None:
            board, index = self.board, self.index
            self._record(
                (
                    now,
                    index,
                    board.in_system[index],
                    board.cpu_queue[index],
                    board.gpu_queue[index],
                    1 if self.cpu.busy else 0,
                    1 if self.gpu.busy else 0,
                )
            )

    def reserve(self, cpu_end_s: float, gpu_end_s: float) -> None:
        """Count a decided request's planned work in the predicted free times.

        Admission reserves each unit's queued work too, so the reservations never fall
        below the units' ``tail_s``.
        """
        board, index = self.board, self.index
        if cpu_end_s > board.cpu_reserved_s[index]:
            board.cpu_reserved_s[index] = cpu_end_s
        if gpu_end_s > board.gpu_reserved_s[index]:
            board.gpu_reserved_s[index] = gpu_end_s

    def predicted_free_s(self, now: float) -> tuple[float, float]:
        """When the CPU and GPU are predicted free (``now`` at the earliest), counting
        requests still on their way."""
        board, index = self.board, self.index
        cpu_free_s, gpu_free_s = board.cpu_reserved_s[index], board.gpu_reserved_s[index]
        return (
            cpu_free_s if cpu_free_s > now else now,
            gpu_free_s if gpu_free_s > now else now,
        )

    def admit(self, request: Request, now: float) -> None:
        """Fix the request's allocation and queue its parts (it arrives ``now``)."""
        params = self.params
        end_s = request.deadline - params.overhead_s - request.return_s
        allocation = allocate(
            request.dvfs,
            now,
            end_s,
            self.cpu.free_at_s(now),
            self.gpu.free_at_s(now),
            request.work_gpu,
            request.work_cpu,
            params,
            self.board.in_system[self.index] == 0,
            request.use_cpu,
            request.known_split,
        )
        request.cpu_share = allocation.cpu_share
        request.cpu_ghz = allocation.cpu_hz / 1e9
        request.gpu_ghz = allocation.gpu_hz / 1e9
        request.cpu_time_s = allocation.cpu_time_s
        request.gpu_time_s = allocation.gpu_time_s
        request.parts_left = 0
        self.board.in_system[self.index] += 1
        if allocation.cpu_time_s > 0.0:
            request.parts_left += 1
            self.cpu.submit(request, allocation.cpu_time_s, now)
        if allocation.gpu_time_s > 0.0:
            request.parts_left += 1
            self.gpu.submit(request, allocation.gpu_time_s, now)
        self.reserve(self.cpu.tail_s, self.gpu.tail_s)
        self.record_state(now)

    def part_started(self, request: Request, is_cpu: bool, now: float) -> None:
        """A unit started a part at ``now``: its dynamic energy is committed."""
        if math.isnan(request.compute_start):
            request.compute_start = now
        params = self.params
        if is_cpu:
            cycles = request.cpu_share * request.work_cpu
            request.energy_cpu_j = params.cpu_kappa * cycles * (request.cpu_ghz * 1e9) ** 2
        else:
            cycles = (1.0 - request.cpu_share) * request.work_gpu
            request.energy_gpu_j = params.gpu_kappa * cycles * (request.gpu_ghz * 1e9) ** 2

    def part_done(self, request: Request, now: float) -> None:
        """A unit finished a part; when it was the last, the request joins and leaves.

        The fixed overhead (text encoder and image decoder) follows the join without holding
        a unit, so the request leaves the server's queues at the join; ``compute_end``
        includes the overhead.
        """
        request.parts_left -= 1
        if request.parts_left == 0 and not request.ended:
            self.board.in_system[self.index] -= 1
            request.server_departure = now
            request.compute_end = now + self.params.overhead_s
            self._done(request, True)

    def drop(self, request: Request, now: float) -> None:
        """Drop a request whose deadline passed while a part of it waited."""
        if not request.ended:
            request.ended = True
            request.server_departure = now
            self.board.in_system[self.index] -= 1
            self._done(request, False)
