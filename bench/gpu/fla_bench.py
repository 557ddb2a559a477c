"""flash-linear-attention baselines, timed like our bundles: each call
captured once in a CUDA graph, then N replays bracketed by CUDA events;
median and min in ms. Each measurement runs in its own process, so a kernel
that faults cannot take the others with it. Run on the GPU machine with
fla-core on PYTHONPATH.

Usage: python3 fla_bench.py [REPS] > fla.txt
"""
import statistics
import subprocess
import sys

# fused_recurrent_gated_delta_rule at these sizes faults (illegal address)
# in fla-core 0.6.0 on torch 2.11 (bench/results/gpu-h100.md), so only its
# decode step is timed.
CASES = [("fused_recurrent", 64, 1, 16, 128, 128, True)]  # decode
for B, T, H, K, V in [(16, 2048, 16, 128, 128), (8, 4096, 16, 128, 128), (4, 8192, 16, 128, 128),
                      (8, 4096, 12, 42, 84), (8, 4096, 9, 56, 112)]:
    CASES.append(("chunk", B, T, H, K, V, False))


def measure(kernel, B, T, H, K, V, decode, reps):
    import torch
    import torch.nn.functional as F
    from fla.ops.gated_delta_rule import (chunk_gated_delta_rule,
                                          fused_recurrent_gated_delta_rule)
    torch.manual_seed(0)
    q = F.normalize(torch.randn(B, T, H, K, device="cuda"), dim=-1).bfloat16()
    k = F.normalize(torch.randn(B, T, H, K, device="cuda"), dim=-1).bfloat16()
    v = torch.randn(B, T, H, V, device="cuda").bfloat16()
    g = F.logsigmoid(torch.randn(B, T, H, device="cuda")).float()
    beta = torch.sigmoid(torch.randn(B, T, H, device="cuda")).bfloat16()
    h0 = torch.randn(B, H, K, V, device="cuda", dtype=torch.float32) if decode else None
    f = chunk_gated_delta_rule if kernel == "chunk" else fused_recurrent_gated_delta_rule

    def call():
        return f(q, k, v, g, beta, scale=K ** -0.5, initial_state=h0, output_final_state=True)

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            call()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        call()
    for _ in range(3):
        graph.replay()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        graph.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    med = statistics.median(times)
    print(f"fla {kernel}_gated_delta_rule {'decode ' if decode else ''}B{B}_T{T}_H{H}_K{K}_V{V}: "
          f"median {med:.4f} ms, min {min(times):.4f} ms, {B * T / (med * 1e-3):.0f} tokens/s",
          flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 2:  # one case, in a child process
        kernel, *nums, decode, reps = sys.argv[2:]
        measure(kernel, *map(int, nums), decode == "1", int(reps))
        sys.exit(0)
    reps = sys.argv[1] if len(sys.argv) > 1 else "20"
    import torch
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    for kernel, B, T, H, K, V, decode in CASES:
        r = subprocess.run([sys.executable, __file__, "case", kernel, str(B), str(T), str(H),
                            str(K), str(V), "1" if decode else "0", reps],
                           capture_output=True, text=True, timeout=120)
        out = r.stdout.strip() or f"fla {kernel} B{B}_T{T}_H{H}_K{K}_V{V}: FAILED " + \
            (r.stderr.strip().splitlines() or ["?"])[-1][:200]
        print(out, flush=True)
