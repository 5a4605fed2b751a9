import subprocess
import sys

import pytest

HEAVY = ("librosa", "tensorflow", "keras", "muda")


# mclnn.train.worker_tasks: workers unpickle tasks through it, and load TensorFlow quietly only after.
@pytest.mark.parametrize("module", ["mclnn", "mclnn.config", "mclnn.train.metrics", "mclnn.dataset_file",
                                    "mclnn.folds", "mclnn.cli", "mclnn.cluster", "mclnn.train.worker_tasks"])
def test_light_modules_load_no_heavy_framework(module):
    code = f"import sys, {module}; print(' '.join(name for name in {HEAVY!r} if name in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_stage_entry_points_are_reachable_from_their_packages():
    code = ("import sys, mclnn.preprocess as p, mclnn.train as t; "
            "p.transform_dataset; print('librosa' in sys.modules); t.cv_train; print('tensorflow' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert output == ["True", "True"]
