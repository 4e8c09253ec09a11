// Hamming distance of (hypothesis, reference) pairs: the per-pair logic shared by the CPU loop
// and the CUDA kernel.
#pragma once

#include <cstdint>

#include "searnn_ext/macros.h"
#include "searnn_ext/pair_batch.h"

namespace searnn {

// Mismatches over the common length plus the length difference, so that sequences of
// different lengths still get a distance (SEARNN compares decoded and reference outputs).
template <typename Token>
SEARNN_HOST_DEVICE_INLINE int64_t hamming_distance_pair(const Token* hyp, int64_t hyp_length,
                                                        const Token* ref, int64_t ref_length) {
  const int64_t common = hyp_length < ref_length ? hyp_length : ref_length;
  int64_t mismatches = 0;
  for (int64_t i = 0; i < common; ++i) {
    mismatches += hyp[i] != ref[i];
  }
  const int64_t length_difference =
      hyp_length > ref_length ? hyp_length - ref_length : ref_length - hyp_length;
  return mismatches + length_difference;
}

// The whole job of one CPU iteration.
template <typename Token>
SEARNN_HOST_DEVICE_INLINE int64_t hamming_distance_row(const PairBatch<Token>& batch, int64_t i) {
  const int64_t row = batch.ref_row(i);
  return hamming_distance_pair(batch.hyp_tokens(i), batch.hyp_lengths[i], batch.ref_tokens(row),
                               batch.ref_lengths[row]);
}

// One GPU thread per pair.
template <typename Token>
struct HammingDistanceThreads {
  PairBatch<Token> batch;
  int64_t* out;

  SEARNN_HOST_DEVICE void operator()(int64_t i) const {
    if (i < batch.size) {
      out[i] = hamming_distance_row(batch, i);
    }
  }
};

}  // namespace searnn
