// Match words computed on demand by scanning the reference: no table, no memory, so that one
// GPU thread per pair needs nothing but registers. The CPU uses PatternMaskTable instead; both
// feed the same edit_distance_pair.
#pragma once

#include <cstdint>

#include "searnn_ext/bit_parallel_edit_distance.h"
#include "searnn_ext/macros.h"
#include "searnn_ext/pair_batch.h"

namespace searnn {

template <typename Token>
struct ScannedPatternMasks {
  const Token* ref;
  int64_t ref_length;

  // Bit i set when ref[64 * word_index + i] == symbol.
  SEARNN_HOST_DEVICE uint64_t word(int64_t symbol, int64_t word_index) const {
    const int64_t begin = word_index * kBitsPerWord;
    const int64_t end = begin + kBitsPerWord < ref_length ? begin + kBitsPerWord : ref_length;
    uint64_t mask = 0;
    for (int64_t i = begin; i < end; ++i) {
      mask |= static_cast<uint64_t>(static_cast<int64_t>(ref[i]) == symbol) << (i - begin);
    }
    return mask;
  }
};

// The whole job of one CUDA thread of the edit-distance kernel, written as a function of the
// pair index so that a CPU test can sweep every index of a launch through it. `columns` points
// at this pair's first scratch word, `columns_stride` apart (see edit_distance_pair).
template <typename Token>
SEARNN_HOST_DEVICE_INLINE int64_t scanned_edit_distance_row(const PairBatch<Token>& batch,
                                                           int64_t i, VerticalDeltas* columns,
                                                           int64_t columns_stride) {
  const int64_t row = batch.ref_row(i);
  const ScannedPatternMasks<Token> masks{batch.ref_tokens(row), batch.ref_lengths[row]};
  return edit_distance_pair(batch.hyp_tokens(i), batch.hyp_lengths[i], masks.ref_length, masks,
                            columns, columns_stride);
}

}  // namespace searnn
