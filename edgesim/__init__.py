"""edgesim: discrete-event simulation of generative-AI serving at the IoT edge.

>>> from edgesim import load_scenario, Simulation
>>> scenario = load_scenario("scenarios/default.yaml")          # doctest: +SKIP
>>> result = Simulation(scenario, policy="greedy", seed=1).run()  # doctest: +SKIP

:class:`Simulation` and :class:`Result` load SimPy on first use, so that ``edgesim.model``
(plain equations) imports neither SimPy nor torch.
"""

from __future__ import annotations

from typing import Any

from edgesim.scenario import Scenario, ScenarioError, load_scenario

__version__ = "0.1.0"

__all__ = ["Result", "Scenario", "ScenarioError", "Simulation", "__version__", "load_scenario"]


def __getattr__(name: str) -> Any:
    """Import the simulator (and with it SimPy) only when it is asked for."""
    if name in ("Result", "Simulation"):
        from edgesim.sim import simulation

        return getattr(simulation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
