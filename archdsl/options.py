"""The names of build's fast-path options, shared by the Python API, the command line and the
torch back end (which imports them from here, so api and back end import no circle)."""

#: the dtype names `build(dtype=...)` and `archdsl compile --dtype` take, besides torch dtypes
DTYPE_NAMES = ("fp32", "bf16", "fp16")
#: the modes `build(compile=...)` and `archdsl compile --torch-compile` take
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
