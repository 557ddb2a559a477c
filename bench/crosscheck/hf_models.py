"""Cross-check of muonssm's config.json import against the libraries the
checkpoints come from (run on the GPU machine, which has torch and
transformers; flash-linear-attention is carried as a wheel).

For each case directory (made by bench/crosscheck/prepare.sh): config.json,
model.safetensors (the weights muonssm-run drew and dumped, packed under
their argument names, convs as PyTorch's [C, 1, W]), input_ids.npy and
logits.npy (muonssm's compiled CPU result). The library's model is built from
the same config.json, the checkpoint loaded by name (load_state_dict, which
fails on a shape mismatch; missing and unexpected names are printed, and
"names ok" means none), run on the same ids, and its logits compared with
muonssm's.

  python3 bench/crosscheck/hf_models.py CASE_DIR...
"""
import json
import pathlib
import sys

import numpy as np
import torch
from safetensors.torch import load_file


def build(config_path, device):
    config = json.loads(config_path.read_text())
    if config["model_type"] == "mamba":
        from transformers import MambaConfig, MambaForCausalLM
        model = MambaForCausalLM(MambaConfig.from_json_file(str(config_path)))
        # transformers' slow path (no mamba_ssm kernels) in float64 on the CPU.
        return model.double(), "cpu", torch.float64
    if config["model_type"] == "gated_deltanet":
        from fla.models import GatedDeltaNetConfig, GatedDeltaNetForCausalLM
        model = GatedDeltaNetForCausalLM(GatedDeltaNetConfig.from_json_file(str(config_path)))
        # fla's Triton kernels need the GPU; float32.
        return model.float(), device, torch.float32
    raise SystemExit(f"unknown model_type {config['model_type']}")


def main():
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for case in map(pathlib.Path, sys.argv[1:]):
        model, dev, dtype = build(case / "config.json", device)
        state = load_file(str(case / "model.safetensors"))
        if getattr(model.config, "tie_word_embeddings", False):
            state.setdefault("lm_head.weight", state[next(k for k in state if k.endswith("embeddings.weight"))])
        missing, unexpected = model.load_state_dict(state, strict=False)
        # A tied head is one parameter: its name may be reported missing.
        missing = [m for m in missing if not (m == "lm_head.weight" and model.config.tie_word_embeddings)]
        status = "names ok" if not missing and not unexpected else f"MISSING {missing} UNEXPECTED {unexpected}"
        model = model.to(dev, dtype).eval()
        ids = torch.from_numpy(np.load(case / "input_ids.npy").astype(np.int64)).to(dev)
        ours = np.load(case / "logits.npy").astype(np.float64)
        with torch.no_grad():
            theirs = model(input_ids=ids).logits.double().cpu().numpy()
        err = np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)
        print(f"{case.name}: {model.config.model_type} {type(model).__name__} "
              f"on {dev} in {str(dtype).replace('torch.', '')}: {status}; "
              f"logits {list(ours.shape)}, rel err of muonssm (f32, CPU) vs the library "
              f"{err:.3e}, max abs {np.abs(ours - theirs).max():.3e}")


main()
