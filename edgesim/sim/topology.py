"""Where servers and devices stand, which base station serves each device, and the backhaul.

Server ``m`` stands beside base station ``m``; base stations sit at the centres of the cells of
a near-square grid over the area. Devices are placed uniformly at random and attach to their
nearest base station. Backhaul routes are shortest paths (in hops) of a networkx graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

from edgesim.model.radio import path_loss_db
from edgesim.scenario import Scenario
from edgesim.sim.random import BufferedStream

__all__ = ["Topology", "backhaul_graph", "grid_positions"]


def grid_positions(count: int, area_m: float) -> np.ndarray:
    """Centres of ``count`` cells of a near-square grid over a square of side ``area_m``."""
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    cells = [(row, col) for row in range(rows) for col in range(columns)][:count]
    return np.array(
        [((col + 0.5) * area_m / columns, (row + 0.5) * area_m / rows) for row, col in cells]
    )


def backhaul_graph(count: int, topology: str) -> nx.Graph:
    """The backhaul between ``count`` base stations as an undirected graph."""
    if topology == "full_mesh":
        return nx.complete_graph(count)
    if topology == "ring":
        return nx.cycle_graph(count) if count > 2 else nx.path_graph(count)
    if topology == "line":
        return nx.path_graph(count)
    if topology == "star":
        return nx.star_graph(count - 1)
    raise ValueError(f"backhaul.topology: unknown topology {topology!r}")


@dataclass(frozen=True)
class Topology:
    """Positions, association, mean channel losses and backhaul hop counts of a scenario."""

    server_xy_m: np.ndarray
    device_xy_m: np.ndarray
    device_station: np.ndarray
    shadowing_db: np.ndarray
    path_loss_db: np.ndarray
    hops: np.ndarray

    @classmethod
    def build(cls, scenario: Scenario, rng: BufferedStream) -> Topology:
        """Place everything for ``scenario`` with draws from ``rng``."""
        servers = grid_positions(scenario.servers.count, scenario.area_m)
        count = scenario.devices.count
        devices = rng.generator.uniform(0.0, scenario.area_m, size=(count, 2))
        shadowing = rng.generator.normal(0.0, scenario.radio.shadowing_std_db, size=count)
        distances = np.linalg.norm(devices[:, None, :] - servers[None, :, :], axis=2)
        loss = scenario.radio.path_loss
        losses = path_loss_db(distances, loss.intercept_db, loss.slope_db, loss.min_distance_m)
        graph = backhaul_graph(scenario.servers.count, scenario.backhaul.topology)
        hops = np.zeros((scenario.servers.count, scenario.servers.count), dtype=int)
        for source, lengths in nx.all_pairs_shortest_path_length(graph):
            for target, length in lengths.items():
                hops[source, target] = length
        return cls(
            server_xy_m=servers,
            device_xy_m=devices,
            device_station=np.argmin(distances, axis=1),
            shadowing_db=shadowing,
            path_loss_db=losses,
            hops=hops,
        )
