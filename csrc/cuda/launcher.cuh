// The only CUDA-specific code of the GPU kernels: the __global__ shells, the warp's shuffles,
// and the launches. Everything the threads compute is in searnn_ext/*.h functors, and
// everything around the launches in launches/*.h; the emulated backend (emulated/launcher.h)
// runs both on the CPU with the same launch plans.
#pragma once

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include "../launches/launch_plan.h"
#include "searnn_ext/warp.h"

namespace searnn {

__device__ inline int64_t global_thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

// A GPU warp for the cooperative functors (see searnn_ext/warp.h). The methods are host-device
// so that the functors' host instantiations compile; only the device ones ever run.
struct CudaWarp {
  int lane;

  __host__ __device__ int size() const { return kWarpSize; }
  template <typename F>
  __host__ __device__ auto lanes(F f) const {
    return f(lane);
  }
  template <typename V>
  __host__ __device__ V sum(V value) const {
#ifdef __CUDA_ARCH__
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
      value += __shfl_xor_sync(kFullMask, value, offset);
    }
#endif
    return value;
  }
  template <typename Acc>
  __host__ __device__ ArgMax<Acc> best(ArgMax<Acc> value) const {
#ifdef __CUDA_ARCH__
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
      const ArgMax<Acc> other{__shfl_xor_sync(kFullMask, value.value, offset),
                              __shfl_xor_sync(kFullMask, value.index, offset)};
      value = first_of(value, other);
    }
#endif
    return value;
  }
  __host__ __device__ void sync() const {
#ifdef __CUDA_ARCH__
    __syncwarp();
#endif
  }

  static constexpr unsigned int kFullMask = 0xffffffffu;
};

template <typename Threads>
__global__ void run_threads(const Threads threads) {
  threads(global_thread_index());
}

template <typename Warps>
__global__ void run_warps(const Warps warps) {
  // Blocks hold whole warps (kThreadsPerBlock % kWarpSize == 0): a thread's lane is its
  // position in the block's warp.
  warps(CudaWarp{static_cast<int>(threadIdx.x % kWarpSize)}, global_thread_index() / kWarpSize);
}

struct CudaLauncher {
  static at::Tensor empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
    return at::empty(sizes, options);
  }

  static void poison(const at::Tensor&) {}  // only the emulated backend checks coverage

  // threads(t) for every t of the plan.
  template <typename Threads>
  static void threads(const LaunchPlan& plan, const Threads& body) {
    if (plan.blocks == 0) {
      return;
    }
    run_threads<<<plan.blocks, plan.threads_per_block, 0, at::cuda::getCurrentCUDAStream()>>>(
        body);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }

  // warps(warp, w) for every warp w of the plan.
  template <typename Warps>
  static void warps(const LaunchPlan& plan, const Warps& body) {
    if (plan.blocks == 0) {
      return;
    }
    run_warps<<<plan.blocks, plan.threads_per_block, 0, at::cuda::getCurrentCUDAStream()>>>(
        body);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
};

}  // namespace searnn
