// Launch shapes shared by the CUDA kernels: one thread per pair (or per row).
#pragma once

#include <c10/util/Exception.h>

#include <cstdint>
#include <limits>

namespace searnn {

constexpr int kThreadsPerBlock = 256;

inline unsigned int blocks_for(int64_t threads) {
  const int64_t blocks = (threads + kThreadsPerBlock - 1) / kThreadsPerBlock;
  TORCH_CHECK(blocks <= std::numeric_limits<int32_t>::max(), "searnn: ", threads,
              " rows exceed one CUDA grid; split the batch");
  return static_cast<unsigned int>(blocks);
}

__device__ inline int64_t global_thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

}  // namespace searnn
