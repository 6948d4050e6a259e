"""The configs co-simulated against the golden model (tests/test_cosim.py) and their sample
streams, shared by the tests and the characterization (sim/characterize.py)."""

import numpy as np

from ghostfpga.config import Config, Hardware, Numerics
from ghostfpga.golden.datasets import digits, yinyang
from ghostfpga.golden.fixed import FixedModel

from .core.protocol import Sample

__all__ = ["COSIMULATED", "cosim_samples"]

COSIMULATED = {
    "yinyang-P8": Config(),
    "yinyang-P8-rows": Config(hardware=Hardware(split_rows=False, forward_drives=True)),
    # the iCEBreaker's core with the rates port: on the iCE40 a copy of a, in block RAM
    "rates-port-rows-P6": Config(hardware=Hardware(lanes=6, split_rows=False, rates_port=True,
                                                     forward_drives=True)),
    "P1": Config(layers=(4, 9, 3), hardware=Hardware(lanes=1)),
    "3hidden-P3": Config(layers=(4, 8, 7, 6, 3),
                         hardware=Hardware(lanes=3, forward_drives=True)),
    "replay-P5": Config(layers=(4, 12, 3), variant="replay", hardware=Hardware(lanes=5)),
    "random-P4": Config(layers=(4, 10, 3), feedback="random", hardware=Hardware(lanes=4)),
    "random-replay-3hidden-P2": Config(layers=(4, 6, 5, 4, 3), feedback="random",
                                       variant="replay", hardware=Hardware(lanes=2)),
    "8bit-weights": Config(layers=(4, 16, 3), numerics=Numerics(weight_bits=8, weight_frac=5)),
    "nearest-P6": Config(layers=(4, 14, 3), numerics=Numerics(rounding="nearest"),
                         hardware=Hardware(lanes=6)),
    "digits-P8": Config(layers=(64, 32, 10)),
    "settle1": Config(layers=(4, 10, 3), settle_iterations=1),
    "settle6-replay-P3": Config(layers=(4, 10, 3), settle_iterations=6, variant="replay",
                                hardware=Hardware(lanes=3, forward_drives=True)),
    # weights, drives and feedback run into their limits: saturation, never wrapping
    "saturating-8bit-P3": Config(layers=(4, 10, 3), lr=0.2, bias_init=1.0,
                                 numerics=Numerics(weight_bits=8, weight_frac=7),
                                 hardware=Hardware(lanes=3, forward_drives=True)),
    "narrow-potentials": Config(layers=(4, 10, 3), lr=0.2, bias_init=1.0,
                                numerics=Numerics(weight_bits=10, weight_frac=9,
                                                  potential_bits=12, error_frac=10)),
    # learned ghosts, the normalized rule (the default): fitted in the free phase
    "learned-P8": Config(layers=(4, 10, 3), variant="learned"),
    "learned-3hidden-P3": Config(layers=(4, 8, 7, 6, 3), variant="learned",
                                 hardware=Hardware(lanes=3, forward_drives=True)),
    "learned-random-rows-P4": Config(layers=(4, 10, 3), variant="learned", feedback="random",
                                     hardware=Hardware(lanes=4, split_rows=False,
                                                       forward_drives=True)),
    "learned-dynamics-P3": Config(layers=(4, 10, 3), variant="learned", schedule="dynamics",
                                  steps=3, alpha=1.0, hardware=Hardware(lanes=3)),
    # the constant rule (learns after the sample at ghost_lr)
    # (V_1 split over the 8 lanes, V_0 one lane per row: the split V's error comes broadcast)
    "constant-learned-2hidden-P8": Config(layers=(4, 4, 16, 3), variant="learned",
                                          ghost_rule="constant"),
    "constant-learned-dynamics-3hidden-P3": Config(layers=(4, 8, 7, 6, 3), variant="learned",
                                                   ghost_rule="constant", schedule="dynamics",
                                                   steps=3, hardware=Hardware(lanes=3)),
    "dynamics-tied": Config(layers=(4, 10, 3), schedule="dynamics", steps=4),
    "dynamics-replay-alpha1-P3": Config(layers=(4, 10, 3), schedule="dynamics", steps=3,
                                        alpha=1.0, variant="replay",
                                        hardware=Hardware(lanes=3)),
    "dynamics-3hidden-rows-P3": Config(layers=(4, 8, 7, 6, 3), schedule="dynamics", steps=3,
                                       hardware=Hardware(lanes=3, split_rows=False)),
    "dynamics-random-P4": Config(layers=(4, 10, 3), schedule="dynamics", steps=3,
                                 feedback="random", hardware=Hardware(lanes=4)),
}


def cosim_samples(config: Config, n: int, seed: int = 0):
    """n samples from the matching data set, every fifth one inference only, and the learning
    rate of the second half decayed (the host changes it between samples)."""
    if config.layers[0] not in (4, 64):
        raise ValueError(f"cosim_samples: the samples come from Yin-Yang (4 inputs) or digits "
                         f"(64), not for {config.layers[0]} inputs")
    data = digits() if config.layers[0] == 64 else yinyang()
    model = FixedModel(config)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(data.y_train))[:n]
    samples = [Sample(model.quantize_input(data.x_train[i]), int(data.y_train[i]), j % 5 != 4)
               for j, i in enumerate(idx)]
    etas = [model.etas(config.lr_at(0 if j < n // 2 else 3)) for j in range(n)]
    return samples, etas
