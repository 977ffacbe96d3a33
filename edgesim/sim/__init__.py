"""The SimPy processes of a run: devices, uplinks, servers, the scheduler and the recorder."""
