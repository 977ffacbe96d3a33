"""edgesim: discrete-event simulation of generative-AI serving at the IoT edge.

>>> from edgesim import load_scenario, Simulation
>>> scenario = load_scenario("scenarios/default.yaml")          # doctest: +SKIP
>>> result = Simulation(scenario, policy="greedy", seed=1).run()  # doctest: +SKIP
"""

from edgesim.scenario import Scenario, ScenarioError, load_scenario
from edgesim.sim.simulation import Result, Simulation

__version__ = "0.1.0"

__all__ = ["Result", "Scenario", "ScenarioError", "Simulation", "__version__", "load_scenario"]
