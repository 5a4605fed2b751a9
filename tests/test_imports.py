import subprocess
import sys

import pytest

from conftest import KERAS_BACKEND

HEAVY = ("librosa", "tensorflow", "keras", "muda", "sklearn", "matplotlib", "jax")


# The workers' modules: workers unpickle tasks through them, and load TensorFlow quietly only after.
# The registries: checking a name or listing a CLI choice loads no framework.
@pytest.mark.parametrize("module", ["mclnn", "mclnn.config", "mclnn.variants", "mclnn.dataset_file", "mclnn.folds", "mclnn.cli", "mclnn.cluster",
                                    "mclnn.train.run.worker", "mclnn.train.predict.worker", "mclnn.train.trial_files",
                                    "mclnn.train.clips", "mclnn.train.model", "mclnn.train.fit", "mclnn.train.evaluate",
                                    "mclnn.train.run", "mclnn.train.predict", "mclnn.train.fit.schedules",
                                    "mclnn.train.fit.monitors", "mclnn.preprocess.feature_presets"])
def test_light_modules_load_no_heavy_framework(module):
    code = f"import sys, {module}; print(' '.join(name for name in {HEAVY!r} if name in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_stage_entry_points_are_reachable_from_their_packages():
    code = ("import sys, mclnn.preprocess as p, mclnn.train as t; p.transform_dataset; print('librosa' in sys.modules); "
            f"t.cv_train; print({KERAS_BACKEND!r} in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert output == ["True", "True"]


def test_transform_loads_neither_scikit_learn_nor_matplotlib_nor_a_framework():
    code = "import sys, mclnn.preprocess.transform; print(' '.join(sorted(set(sys.modules) & {'sklearn', " \
           "'matplotlib', 'tensorflow', 'keras', 'jax'})))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == []


def test_python_dash_m_mclnn_is_the_command():
    result = subprocess.run([sys.executable, "-m", "mclnn", "--help"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("Usage: mclnn [OPTIONS] COMMAND [ARGS]...")
