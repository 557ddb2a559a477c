// The baseline of issue 7: mamba_ssm's selective-scan forward (Tri Dao's CUDA
// kernel, state-spaces/mamba csrc/selective_scan), timed the way
// muonssm-bundle-run times our bundles (one launch captured in a CUDA graph,
// 3 warm-up replays, the median of REPS replays by CUDA events).
//
// Its sources are not part of this project: bench/gpu/device.sh builds this
// driver on the GPU machine against a carried copy of csrc/selective_scan
// (-I) and torch's c10 headers and libraries, as mamba_ssm's setup.py does.
//
// Usage: mamba_scan_bench B L D N bf16|f32 z|noz REPS
// Layouts are mamba_ssm's: u, Δ, z, out [B, D, L]; B, C [B, 1, N, L]
// (input-dependent, one group); A [D, N]; D and the Δ bias [D]; softplus on.
#include "selective_scan_fwd_kernel.cuh"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#define CHECK(x)                                                              \
  do {                                                                        \
    cudaError_t err_ = (x);                                                   \
    if (err_ != cudaSuccess) {                                                \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,                 \
                   cudaGetErrorString(err_));                                 \
      std::exit(1);                                                           \
    }                                                                         \
  } while (0)

namespace {

void *allocate(size_t bytes) {
  void *device;
  CHECK(cudaMalloc(&device, bytes));
  return device;
}

template <typename T>
void *upload(size_t n, float lo, float hi, std::mt19937 &rng) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<T> host(n);
  for (T &x : host)
    x = T(dist(rng));
  void *device = allocate(n * sizeof(T));
  CHECK(cudaMemcpy(device, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  return device;
}

// The launch selective_scan_fwd_cuda makes for this sequence length, but
// instantiated for the two lengths measured only (compile time).
template <typename input_t>
void launch(SSMParamsBase &params, cudaStream_t stream) {
  if (params.seqlen <= 512)
    selective_scan_fwd_launch<32, 16, input_t, float>(params, stream);
  else
    selective_scan_fwd_launch<128, 16, input_t, float>(params, stream);
}

template <typename input_t>
int run(int batch, int seqlen, int dim, int dstate, bool hasZ, int reps) {
  std::mt19937 rng(0);
  size_t bdl = size_t(batch) * dim * seqlen;
  size_t bnl = size_t(batch) * dstate * seqlen;
  int nChunks = (seqlen + 2047) / 2048;
  SSMParamsBase p;
  std::memset(&p, 0, sizeof(p));
  p.batch = batch;
  p.dim = dim;
  p.seqlen = seqlen;
  p.dstate = dstate;
  p.n_groups = 1;
  p.n_chunks = nChunks;
  p.dim_ngroups_ratio = dim;
  p.delta_softplus = true;
  p.is_variable_B = p.is_variable_C = true;
  p.u_ptr = upload<input_t>(bdl, -1.f, 1.f, rng);
  p.delta_ptr = upload<input_t>(bdl, -4.f, -1.f, rng);
  p.A_ptr = upload<float>(size_t(dim) * dstate, -2.f, -0.1f, rng);
  p.B_ptr = upload<input_t>(bnl, -1.f, 1.f, rng);
  p.C_ptr = upload<input_t>(bnl, -1.f, 1.f, rng);
  p.D_ptr = upload<float>(dim, -1.f, 1.f, rng);
  p.delta_bias_ptr = upload<float>(dim, -1.f, 0.f, rng);
  p.out_ptr = allocate(bdl * sizeof(input_t));
  p.x_ptr =
      allocate(size_t(batch) * dim * nChunks * dstate * 2 * sizeof(float));
  if (hasZ) {
    p.z_ptr = upload<input_t>(bdl, -1.f, 1.f, rng);
    p.out_z_ptr = allocate(bdl * sizeof(input_t));
  }
  // Strides in elements ([B, D, L] contiguous; B/C [B, 1, N, L]).
  p.A_d_stride = dstate;
  p.A_dstate_stride = 1;
  p.B_batch_stride = p.C_batch_stride = size_t(dstate) * seqlen;
  p.B_group_stride = p.C_group_stride = size_t(dstate) * seqlen;
  p.B_dstate_stride = p.C_dstate_stride = seqlen;
  p.u_batch_stride = p.delta_batch_stride = p.out_batch_stride =
      p.z_batch_stride = p.out_z_batch_stride = size_t(dim) * seqlen;
  p.u_d_stride = p.delta_d_stride = p.out_d_stride = p.z_d_stride =
      p.out_z_d_stride = seqlen;

  cudaStream_t stream;
  CHECK(cudaStreamCreate(&stream));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  launch<input_t>(p, stream);
  CHECK(cudaStreamEndCapture(stream, &graph));
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  for (int i = 0; i < 3; ++i)
    CHECK(cudaGraphLaunch(exec, stream));
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    CHECK(cudaEventRecord(start, stream));
    CHECK(cudaGraphLaunch(exec, stream));
    CHECK(cudaEventRecord(stop, stream));
    CHECK(cudaEventSynchronize(stop));
    float t;
    CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  double median = ms[ms.size() / 2];
  double tokens = double(batch) * seqlen;
  std::printf("mamba_ssm selective_scan_fwd B%d L%d D%d N%d %s %s: median "
              "%.4f ms, min %.4f ms, %.0f tokens/s\n",
              batch, seqlen, dim, dstate,
              sizeof(input_t) == 2 ? "bf16" : "f32",
              hasZ ? "with D, z" : "with D, no z", median, ms.front(),
              tokens / (median * 1e-3));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 8) {
    std::fprintf(stderr,
                 "usage: %s B L D N bf16|f32 z|noz REPS\n", argv[0]);
    return 2;
  }
  int batch = std::atoi(argv[1]), seqlen = std::atoi(argv[2]),
      dim = std::atoi(argv[3]), dstate = std::atoi(argv[4]);
  bool bf16 = std::strcmp(argv[5], "bf16") == 0;
  bool hasZ = std::strcmp(argv[6], "z") == 0;
  int reps = std::atoi(argv[7]);
  return bf16 ? run<at::BFloat16>(batch, seqlen, dim, dstate, hasZ, reps)
              : run<float>(batch, seqlen, dim, dstate, hasZ, reps);
}
