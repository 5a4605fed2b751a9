"""mclnn: cross-validated sound classifiers built on Masked Conditional Neural Networks.

The pipeline runs in three stages, each in its own subpackage: ``mclnn.preprocess``
(audio -> Dataset.hdf5), ``mclnn.folds`` (cross-validation indices and standardization)
and ``mclnn.train`` (MCLNN training and reports).
"""

from mclnn.errors import DatasetError, MCLNNError, ParameterError
from mclnn.dataset_file import Dataset, load_dataset

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "DatasetError",
    "MCLNNError",
    "ParameterError",
    "__version__",
    "load_dataset",
]
