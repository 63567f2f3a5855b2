"""The substrate both networks are built from: neuron types, leaky-integrator dynamics, the
closed-form k-WTA fixed point of uniform inhibition, connections and networks."""

from sim.substrate import connections, dynamics, kwta, network, neurons

__all__ = ["connections", "dynamics", "kwta", "network", "neurons"]
