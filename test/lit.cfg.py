# lit configuration for muonssm: FileCheck tests of the dialect, the passes,
# the pipelines, the tools and the examples.
import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config

config.name = "MUONSSM"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
# fuzz/: its corpus holds .mlir inputs that ctest replays (fuzz-*-corpus).
config.excludes = ["Inputs", "unit", "data", "fuzz", "CMakeLists.txt",
                   "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.muonssm_obj_root, "test")

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tools = [t for t in ["muonssm-opt", "muonssm-run", "muonssm-translate",
                     "muonssm-bundle-run"]
         if os.path.exists(os.path.join(config.muonssm_tools_dir, t))]
llvm_config.add_tool_substitutions(tools, [config.muonssm_tools_dir])
config.substitutions.append(("%examples", os.path.join(config.muonssm_src_root, "examples")))
config.substitutions.append(("%cuda_bin", config.cuda_bin_dir))
config.substitutions.append(("%python", "python3"))

if config.cuda_bin_dir and os.path.exists(os.path.join(config.cuda_bin_dir, "ptxas")):
    config.available_features.add("ptxas")
# cuobjdump reads SASS: from the CUDA toolkit, $PATH, or PyPI's
# nvidia-cuda-cuobjdump (the build machines' toolkit lacks it).
def find_cuobjdump():
    candidates = [shutil.which("cuobjdump")]
    if config.cuda_bin_dir:
        candidates.append(os.path.join(config.cuda_bin_dir, "cuobjdump"))
    # The namespace package of the PyPI CUDA wheels, as the python3 on $PATH
    # sees it (lit itself may run under another interpreter).
    try:
        roots = subprocess.run(
            ["python3", "-c",
             "import nvidia, os; print(os.pathsep.join(nvidia.__path__))"],
            capture_output=True, text=True, timeout=20).stdout.split(os.pathsep)
    except (OSError, subprocess.SubprocessError):
        roots = []
    for root in roots:
        for sub in ["cu13/bin", "cuda_cuobjdump/bin"]:
            candidates.append(os.path.join(root.strip(), sub, "cuobjdump"))
    return next((c for c in candidates if c and os.path.exists(c)), None)

cuobjdump = find_cuobjdump()
if cuobjdump:
    config.available_features.add("cuobjdump")
    config.substitutions.append(("%cuobjdump", cuobjdump))

# A usable GPU: muonssm-rt-info (the runtime, no MLIR) finds a driver and a
# device. Tests that need one REQUIRE cuda-device; the rest check the
# error muonssm gives without one.
rt_info = os.path.join(config.muonssm_tools_dir, "muonssm-rt-info")
try:
    if os.path.exists(rt_info) and subprocess.run(
            [rt_info], capture_output=True, timeout=60).returncode == 0:
        config.available_features.add("cuda-device")
except (OSError, subprocess.SubprocessError):
    pass
