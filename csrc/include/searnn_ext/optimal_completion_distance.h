// The optimal reference policy for edit distance (SEARNN, appendix C; Sabour et al., "Optimal
// completion distillation", ICLR 2019): the edit distance of the best completion of a sequence x
// to a reference r, without decoding. Aligning x with r[:j] and then emitting r[j:] is optimal,
// so the cost is
//   min_j ED(x, r[:j])                          completions of any length (EOS tasks),
//   min_j ED(x, r[:j]) + |n - (|r| - j)|        exactly n more tokens (fixed-length tasks),
// r[j:] cut or padded to n tokens. The DP column of x against r (Myers' bit vectors, row j holds
// ED(x, r[:j])) gives every ED(x, r[:j]) at once. Two passes, two CUDA launches:
//   PrefixColumns: one thread per sequence walks its roll-in, storing the column of every prefix
//     (one bit-parallel step per token);
//   CompletionCosts: one thread per (sequence, step, candidate) advances its prefix's column by
//     the candidate (one step) and takes the minimum down the new column.
// Both are functions of the thread index only, launched by launches/optimal_completion_distance.h
// on CUDA, in emulation and, in parallel, on the CPU: the code the tests run is the code the GPU
// runs.
#pragma once

#include <cstdint>

#include "searnn_ext/bit_parallel_edit_distance.h"
#include "searnn_ext/macros.h"
#include "searnn_ext/sorted_match_tables.h"

namespace searnn {

// One optimal_completion_distance call as raw pointers (all contiguous). Cell (b, t) is the
// sequence prefix[b, :t] followed by a candidate candidates[b, t, k]; reference b is row b of
// the match tables.
template <typename Token>
struct CompletionBatch {
  const Token* prefix;         // [batch, steps]
  const Token* candidates;     // [batch, steps, width]
  const int64_t* ref_lengths;  // [batch]
  int64_t batch, steps, width;
  // EOS tasks: completions of any length, and a candidate equal to eos_id ends the sequence.
  // Fixed-length tasks: a finished sequence has max(|r|, t + 1) tokens (as copying r does).
  bool ends_at_eos;
  int64_t eos_id;
  SortedMatchTables<Token> tables;  // of the references, built before both passes
  VerticalDeltas* prefix_columns;   // [batch, steps, tables.words], written by PrefixColumns
  int64_t* prefix_distances;        // [batch, steps]: ED(prefix[b, :t], r), by PrefixColumns
  int64_t* out;                     // [batch, steps, width]

  // Refers to `tables`: use it while this batch lives (the functors hold theirs as a member).
  SEARNN_HOST_DEVICE SortedMatchTableRow<Token> match_table(int64_t b) const {
    return SortedMatchTableRow<Token>{tables, b};
  }
};

// What a completion's length adds at row j: 0 for EOS tasks; |n - (|r| - j)| = |j - anchor| for
// fixed-length ones, where anchor = |r| - n = min(t + 1, |r|) is the row from which copying r
// gives exactly the right length.
struct CompletionLengthPenalty {
  bool fixed;
  int64_t anchor;

  SEARNN_HOST_DEVICE int64_t operator()(int64_t row) const {
    if (!fixed) {
      return 0;
    }
    return row > anchor ? row - anchor : anchor - row;
  }
};

// Walks rows first_row + 1 .. first_row + rows of a column block: `score` holds D[first_row] on
// entry and D[first_row + rows] on exit; `best` is lowered to every D[row] + penalty(row) seen.
SEARNN_HOST_DEVICE_INLINE void scan_block(const VerticalDeltas& block, int64_t rows,
                                          int64_t first_row,
                                          const CompletionLengthPenalty& penalty, int64_t& score,
                                          int64_t& best) {
  for (int64_t i = 0; i < rows; ++i) {
    score += static_cast<int64_t>((block.positive >> i) & 1) -
             static_cast<int64_t>((block.negative >> i) & 1);
    const int64_t value = score + penalty(first_row + i + 1);
    best = value < best ? value : best;
  }
}

// Pass 1, one thread per sequence: the column of prefix[b, :t] for every step t, each advanced
// from the one before by one token, and its distance to the whole reference.
template <typename Token>
struct PrefixColumns {
  CompletionBatch<Token> batch;

  SEARNN_HOST_DEVICE int64_t threads() const { return batch.batch; }

  SEARNN_HOST_DEVICE void operator()(int64_t thread) const {
    if (thread >= threads()) {
      return;
    }
    const int64_t b = thread;
    const int64_t ref_length = batch.ref_lengths[b];
    const int64_t words = words_for_length(ref_length);
    const int last_bit = last_row_bit(ref_length);
    const SortedMatchTableRow<Token> match_table = batch.match_table(b);
    VerticalDeltas* columns = batch.prefix_columns + b * batch.steps * batch.tables.words;
    int64_t distance = ref_length;  // ED of the empty prefix
    for (int64_t t = 0; t < batch.steps; ++t) {
      VerticalDeltas* column = columns + t * batch.tables.words;
      if (t == 0) {
        reset_column(words, column, 1);
      } else {
        const VerticalDeltas* previous = column - batch.tables.words;
        for (int64_t w = 0; w < words; ++w) {
          column[w] = previous[w];
        }
        const int64_t symbol = static_cast<int64_t>(batch.prefix[b * batch.steps + t - 1]);
        distance += advance_column(match_table, symbol, words, last_bit, column, 1);
      }
      batch.prefix_distances[b * batch.steps + t] = distance;
    }
  }
};

// Pass 2, one thread per (sequence, step, candidate), in the layout of `out`: the prefix's column
// advanced by the candidate one block at a time, each block scanned for the minimum as it is
// made. A candidate equal to EOS ends the sequence: the prefix's own distance.
template <typename Token>
struct CompletionCosts {
  CompletionBatch<Token> batch;

  SEARNN_HOST_DEVICE int64_t threads() const { return batch.batch * batch.steps * batch.width; }

  SEARNN_HOST_DEVICE void operator()(int64_t thread) const {
    if (thread >= threads()) {
      return;
    }
    const int64_t cell = thread / batch.width;
    const int64_t b = cell / batch.steps;
    const int64_t t = cell - b * batch.steps;
    const int64_t symbol = static_cast<int64_t>(batch.candidates[thread]);
    if (batch.ends_at_eos && symbol == batch.eos_id) {
      batch.out[thread] = batch.prefix_distances[cell];
      return;
    }
    const int64_t ref_length = batch.ref_lengths[b];
    const int64_t words = words_for_length(ref_length);
    const int last_bit = last_row_bit(ref_length);
    const SortedMatchTableRow<Token> match_table = batch.match_table(b);
    const VerticalDeltas* prefix_column = batch.prefix_columns + cell * batch.tables.words;
    const int64_t length = t + 1;  // of prefix + candidate
    const CompletionLengthPenalty penalty{!batch.ends_at_eos,
                                          length < ref_length ? length : ref_length};
    int64_t score = length;  // row 0: ED(x, empty) = |x|
    int64_t best = score + penalty(0);
    int carry = 1;
    for (int64_t w = 0; w < words; ++w) {
      const bool last = w + 1 == words;
      VerticalDeltas block = prefix_column[w];
      carry = advance_block(match_table.word(symbol, w), block, carry,
                            last ? last_bit : static_cast<int>(kBitsPerWord - 1));
      const int64_t rows = last ? last_bit + 1 : kBitsPerWord;
      scan_block(block, rows, w * kBitsPerWord, penalty, score, best);
    }
    batch.out[thread] = best;
  }
};

}  // namespace searnn
