"""Golden models: the float ghost-unit model (the science), the bit-exact fixed-point model
(the hardware's arithmetic, ``fixed`` over ``numerics``), the backprop baseline, data sets and
the training loop; the studies measured on them are in ``studies``.

Depends on numpy and the config type only; knows nothing of hdl/, sim/ or boards/.
"""

from .backprop import BackpropModel, backprop_gradients
from .datasets import Dataset, DatasetError, load_dataset
from .ghost import GhostModel
from .network import Params, init_params
from .training import TrainResult, train

__all__ = ["BackpropModel", "backprop_gradients", "Dataset", "DatasetError", "load_dataset",
           "GhostModel", "Params", "init_params", "TrainResult", "train"]
