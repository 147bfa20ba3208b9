"""Networks: seeded streams, activations, layers, the frozen :class:`Network`, sampling, masks and scaling."""

from jacstab.nets.layers import Dense, Gate, Layer, ReflectionBlock, ResidualBlock
from jacstab.nets.network import Network, Provenance
from jacstab.nets.partial import partial_isometry_net
from jacstab.nets.sampling import sample
from jacstab.nets.streams import default_input, generator, haar_orthogonal

__all__ = [
    "Dense", "Gate", "Layer", "Network", "Provenance", "ReflectionBlock", "ResidualBlock", "default_input", "generator",
    "haar_orthogonal", "partial_isometry_net", "sample",
]
