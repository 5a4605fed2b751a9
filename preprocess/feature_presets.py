"""The fixed analyses of the feature presets other than ``mclnn``.

Pure data, read by the settings (frame sizes, feature counts) and by the feature code.
"""

__all__ = ["DCASE2018"]

# The `logmel-dcase2018` preset (the DCASE 2018 Task 2 baseline): STFT magnitude with a
# periodic Hann window, FFT length the next power of two, mel bands between mel_fmin and
# mel_fmax, log(mel + log_offset); examples of example_seconds every example_hop_seconds.
DCASE2018 = {"window_seconds": 0.025, "hop_seconds": 0.010, "n_mels": 64, "mel_fmin": 125.0, "mel_fmax": 7500.0,
             "log_offset": 0.001, "example_seconds": 0.25, "example_hop_seconds": 0.125}
