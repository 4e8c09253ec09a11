// A batch of (hypothesis, reference) pairs as raw pointers: what the per-pair logic of the
// cost kernels reads, on the CPU and on the GPU alike.
#pragma once

#include <cstdint>

#include "searnn_ext/macros.h"

namespace searnn {

// Rows are padded token sequences; `ref_index` (may be null) maps hypothesis i to its
// reference row, so that many hypotheses can share one reference without copies.
template <typename Token>
struct PairBatch {
  const Token* hyp;
  int64_t hyp_stride;
  const int64_t* hyp_lengths;
  const Token* ref;
  int64_t ref_stride;
  const int64_t* ref_lengths;
  const int64_t* ref_index;
  int64_t size;

  SEARNN_HOST_DEVICE int64_t ref_row(int64_t i) const { return ref_index ? ref_index[i] : i; }
  SEARNN_HOST_DEVICE const Token* hyp_tokens(int64_t i) const { return hyp + i * hyp_stride; }
  SEARNN_HOST_DEVICE const Token* ref_tokens(int64_t row) const { return ref + row * ref_stride; }
};

}  // namespace searnn
