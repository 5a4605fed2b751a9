"""mclnn: cross-validated sound classifiers built on Masked Conditional Neural Networks.

The pipeline runs in three stages, each in its own subpackage: ``mclnn.preprocess``
(audio -> Dataset.hdf5), ``mclnn.folds`` (cross-validation indices and standardization)
and ``mclnn.train`` (MCLNN training and reports).
"""

from mclnn.errors import DatasetError, MCLNNError, ParameterError
from mclnn.dataset_file import Dataset, load_dataset
from mclnn.lazy_imports import lazy_attributes

__version__ = "0.1.0"

__all__ = [
    "Classifier",
    "Dataset",
    "DatasetError",
    "MCLNNError",
    "ParameterError",
    "__version__",
    "load_dataset",
]

# The trained-model API loads Keras: imported on first use, so ``import mclnn`` stays light.
__getattr__ = lazy_attributes("mclnn", {"Classifier": "mclnn.train.predict.classifier"})
