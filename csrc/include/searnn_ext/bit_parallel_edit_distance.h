// Levenshtein distance with Myers' bit-parallel algorithm in Hyyro's block form: the reference
// is the pattern, one 64-bit word per 64 reference symbols; each hypothesis symbol advances
// every word of the DP column at once. Shared by the CPU kernels and the CUDA kernels.
//
// G. Myers, "A fast bit-vector algorithm for approximate string matching based on dynamic
// programming", JACM 1999; H. Hyyro, "A bit-vector algorithm for computing Levenshtein and
// Damerau edit distances", Nordic Journal of Computing 2003.
#pragma once

#include <cstdint>

#include "searnn_ext/macros.h"

namespace searnn {

constexpr int64_t kBitsPerWord = 64;

SEARNN_HOST_DEVICE_INLINE int64_t words_for_length(int64_t length) {
  return (length + kBitsPerWord - 1) / kBitsPerWord;
}

// The DP column of one 64-row block, encoded as vertical deltas: bit i of `positive` (of
// `negative`) is set when D[i][j] - D[i-1][j] is +1 (is -1).
struct VerticalDeltas {
  uint64_t positive;
  uint64_t negative;
};

// Advances one block by one hypothesis symbol. `match`, the symbol's match word, has bit i set
// when reference row i of the block equals the symbol; `carry_in` is the horizontal delta
// entering the block's top row (+1 for the first block: row 0 of the DP is D[0][j] = j). Returns
// the horizontal delta at row `out_bit` of the block: the carry into the next block, or the score
// change at the last row.
SEARNN_HOST_DEVICE_INLINE int advance_block(uint64_t match, VerticalDeltas& column, int carry_in,
                                            int out_bit) {
  const uint64_t carry_negative = carry_in < 0 ? 1 : 0;
  const uint64_t carry_positive = carry_in > 0 ? 1 : 0;
  const uint64_t vertical = match | column.negative;
  match |= carry_negative;
  const uint64_t horizontal = (((match & column.positive) + column.positive) ^ column.positive) |
                              match;
  uint64_t horizontal_positive = column.negative | ~(horizontal | column.positive);
  uint64_t horizontal_negative = column.positive & horizontal;
  const int carry_out = static_cast<int>((horizontal_positive >> out_bit) & 1) -
                        static_cast<int>((horizontal_negative >> out_bit) & 1);
  horizontal_positive = (horizontal_positive << 1) | carry_positive;
  horizontal_negative = (horizontal_negative << 1) | carry_negative;
  column.positive = horizontal_negative | ~(vertical | horizontal_positive);
  column.negative = horizontal_positive & vertical;
  return carry_out;
}

// The column of an empty hypothesis: D[i][0] = i, every vertical delta +1.
SEARNN_HOST_DEVICE_INLINE void reset_column(int64_t words, VerticalDeltas* columns,
                                            int64_t stride) {
  for (int64_t w = 0; w < words; ++w) {
    columns[w * stride] = VerticalDeltas{~uint64_t{0}, 0};
  }
}

// A reference's match table maps a symbol and a word index w to the symbol's match word in
// block w: bit i set when reference symbol 64 * w + i equals the symbol (Myers' Peq). Its lookup
// is `word(symbol, w)`; HashedMatchTable (CPU) and SortedMatchTableRow (GPU) provide one.
//
// Advances a whole column, `words` blocks `stride` apart, by one hypothesis symbol. Returns the
// change of the score (the DP value at the reference's last row, `last_bit` of the last block);
// with no words (an empty reference) that is +1, one more insertion.
template <typename MatchTable>
SEARNN_HOST_DEVICE_INLINE int advance_column(const MatchTable& match_table, int64_t symbol,
                                             int64_t words, int last_bit, VerticalDeltas* columns,
                                             int64_t stride) {
  int carry = 1;
  for (int64_t w = 0; w < words; ++w) {
    const int out_bit = w + 1 == words ? last_bit : static_cast<int>(kBitsPerWord - 1);
    carry = advance_block(match_table.word(symbol, w), columns[w * stride], carry, out_bit);
  }
  return carry;
}

// Bit of a reference's last row within its last word (0 for an empty reference, which has no
// words).
SEARNN_HOST_DEVICE_INLINE int last_row_bit(int64_t length) {
  return length > 0 ? static_cast<int>((length - 1) % kBitsPerWord) : 0;
}

// Edit distance between `hyp` (length hyp_length) and a reference of length ref_length whose
// match words come from its match table, `match_table.word(symbol, word_index)`. Bits of the last
// word past the reference's end never reach lower bits (carries and shifts only move upwards),
// so they need no masking. `columns` is scratch for references longer than one word:
// words_for_length(ref_length) entries, `columns_stride` apart (strided so that CUDA threads can
// interleave).
template <typename Token, typename MatchTable>
SEARNN_HOST_DEVICE int64_t edit_distance_pair(const Token* hyp, int64_t hyp_length,
                                             int64_t ref_length, const MatchTable& match_table,
                                             VerticalDeltas* columns, int64_t columns_stride) {
  if (ref_length == 0) {
    return hyp_length;
  }
  const int64_t words = words_for_length(ref_length);
  const int last_bit = last_row_bit(ref_length);
  int64_t score = ref_length;
  if (words == 1) {
    // The common case (references up to 64 symbols) keeps the column in registers.
    VerticalDeltas column{~uint64_t{0}, 0};
    for (int64_t j = 0; j < hyp_length; ++j) {
      const uint64_t match = match_table.word(static_cast<int64_t>(hyp[j]), 0);
      score += advance_block(match, column, 1, last_bit);
    }
    return score;
  }
  reset_column(words, columns, columns_stride);
  for (int64_t j = 0; j < hyp_length; ++j) {
    score += advance_column(match_table, static_cast<int64_t>(hyp[j]), words, last_bit, columns,
                            columns_stride);
  }
  return score;
}

}  // namespace searnn
