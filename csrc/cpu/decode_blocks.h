// The CPU decode loops run on blocks of rows (CpuKernels::for_row_blocks, greedy_rollout.cpp):
// the recurrent loop a step at a time, the transformer's all of a block's steps at once. The
// float32 GEMMs go to oneDNN on whole blocks only (cpu_gemm.cpp), and build_info() reports the
// size, so that callers can hand the loops whole blocks (searnn_ext/rollout_transformer.py).
#pragma once

#include <cstdint>

namespace searnn {

// A block's rows, their gates, logits and attention stay in cache from the GEMM that writes
// them to the kernel that reads them.
constexpr int64_t kDecodeRowsPerBlock = 256;

}  // namespace searnn
