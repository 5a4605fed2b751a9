"""The models: the MaskedConditional layer, the MCLNN model and its clip form, the DCASE 2018
baselines, the model kinds behind one interface (:data:`mclnn.variants.MODEL_KINDS`), the
training modes (:data:`mclnn.variants.TRAINING_MODES`) and the first layer's pictures.

The modules load Keras; this package itself loads nothing.
"""

__all__: list[str] = []
