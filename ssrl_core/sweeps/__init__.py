"""Parameter sweeps (Bendidi et al. 2024, section 3.1): one recipe parameter, several seeds.

A floor above training and evaluation: each point of a sweep trains an encoder (`train`) and
scores it (`evaluate`). `runner` runs a sweep in this process (resumable, `results.csv` written
atomically after each point); `jobs` runs one in the background on the job layer
`ssrl_core.jobs`, like `train.jobs` does for training runs. The statistics are
`ssrl_core.evaluate.bias_stats`.
"""
