// How every launch is planned: grid and block sizes, shared by every launcher (CUDA, emulated
// CUDA, and the CPU's for optimal_completion_distance), so that emulation covers exactly the
// indices the GPU would run.
#pragma once

#include <c10/util/Exception.h>

#include <cstdint>
#include <limits>

#include "searnn_ext/warp.h"

namespace searnn {

constexpr int kThreadsPerBlock = 256;  // a multiple of kWarpSize: no warp straddles two blocks
static_assert(kThreadsPerBlock % kWarpSize == 0);

struct LaunchPlan {
  unsigned int blocks;
  unsigned int threads_per_block;

  int64_t threads() const { return static_cast<int64_t>(blocks) * threads_per_block; }
};

// One thread per item (a pair, a hidden unit).
inline LaunchPlan plan_threads(int64_t items) {
  const int64_t blocks = (items + kThreadsPerBlock - 1) / kThreadsPerBlock;
  TORCH_CHECK(blocks <= std::numeric_limits<int32_t>::max(), "searnn: ", items,
              " items exceed one CUDA grid; split the batch");
  return LaunchPlan{static_cast<unsigned int>(blocks), kThreadsPerBlock};
}

// One warp per item (a roll-out row of the attention or the argmax).
inline LaunchPlan plan_warps(int64_t items) {
  TORCH_CHECK(items <= std::numeric_limits<int64_t>::max() / kWarpSize, "searnn: ", items,
              " rows exceed one CUDA grid; split the batch");
  return plan_threads(items * kWarpSize);
}

}  // namespace searnn
