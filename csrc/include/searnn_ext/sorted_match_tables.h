// The match tables of every reference, one table per (reference row, 64-symbol word), each built
// once by one thread and then looked up by the pairs that use that reference: the GPU's source of
// Myers' match words. A word's distinct symbols are kept sorted with their match words, so a
// lookup is a binary search of at most 64 entries, not a rescan of the reference per hypothesis
// symbol. (The CPU uses HashedMatchTable; both feed the same edit_distance_pair.)
#pragma once

#include <cstdint>

#include "searnn_ext/bit_parallel_edit_distance.h"
#include "searnn_ext/macros.h"
#include "searnn_ext/pair_batch.h"

namespace searnn {

// Tables of `rows` references, `words` words each: entry e of (row, word) is at
// ((row * words + word) * slots + e); slots = min(64, widest reference).
template <typename Token>
struct SortedMatchTables {
  const Token* ref;
  int64_t ref_stride;
  const int64_t* ref_lengths;
  int64_t rows, words, slots;
  int64_t* symbols;       // sorted distinct symbols of each (row, word)
  uint64_t* match_words;  // their match words
  int64_t* counts;        // [rows, words]: distinct symbols of each (row, word)

  // Builds table `thread` = row * words + word: an insertion sort of the word's symbols.
  SEARNN_HOST_DEVICE void operator()(int64_t thread) const {
    if (thread >= rows * words) {
      return;
    }
    const int64_t row = thread / words, word = thread % words;
    const int64_t begin = word * kBitsPerWord;
    const int64_t length = ref_lengths[row];
    const int64_t end = begin + kBitsPerWord < length ? begin + kBitsPerWord : length;
    int64_t* table_symbols = symbols + thread * slots;
    uint64_t* table_match_words = match_words + thread * slots;
    int64_t count = 0;
    for (int64_t i = begin; i < end; ++i) {
      const int64_t symbol = static_cast<int64_t>(ref[row * ref_stride + i]);
      const uint64_t bit = uint64_t{1} << (i - begin);
      const int64_t at = lower_bound(table_symbols, count, symbol);
      if (at < count && table_symbols[at] == symbol) {
        table_match_words[at] |= bit;
        continue;
      }
      for (int64_t e = count; e > at; --e) {
        table_symbols[e] = table_symbols[e - 1];
        table_match_words[e] = table_match_words[e - 1];
      }
      table_symbols[at] = symbol;
      table_match_words[at] = bit;
      ++count;
    }
    counts[thread] = count;
  }

  // Bit i set when ref[row][64 * word + i] == symbol.
  SEARNN_HOST_DEVICE uint64_t word_of(int64_t row, int64_t symbol, int64_t word) const {
    const int64_t table = row * words + word;
    const int64_t* table_symbols = symbols + table * slots;
    const int64_t count = counts[table];
    const int64_t at = lower_bound(table_symbols, count, symbol);
    return at < count && table_symbols[at] == symbol ? match_words[table * slots + at] : 0;
  }

  // The first of sorted[0, count) not below `symbol`.
  SEARNN_HOST_DEVICE static int64_t lower_bound(const int64_t* sorted, int64_t count,
                                                int64_t symbol) {
    int64_t low = 0, high = count;
    while (low < high) {
      const int64_t middle = low + (high - low) / 2;
      if (sorted[middle] < symbol) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low;
  }
};

// The match table of one reference row, made of that row's per-word tables, as
// edit_distance_pair reads it.
template <typename Token>
struct SortedMatchTableRow {
  const SortedMatchTables<Token>& tables;
  int64_t row;

  SEARNN_HOST_DEVICE uint64_t word(int64_t symbol, int64_t word_index) const {
    return tables.word_of(row, symbol, word_index);
  }
};

// One thread per pair. Pair i's scratch word w is columns[w * batch.size + i], so that
// neighbouring threads touch neighbouring words; null when every reference fits one word.
template <typename Token>
struct EditDistanceThreads {
  PairBatch<Token> batch;
  SortedMatchTables<Token> tables;
  VerticalDeltas* columns;
  int64_t* out;

  SEARNN_HOST_DEVICE void operator()(int64_t i) const {
    if (i >= batch.size) {
      return;
    }
    const int64_t row = batch.ref_row(i);
    const SortedMatchTableRow<Token> match_table{tables, row};
    out[i] = edit_distance_pair(batch.hyp_tokens(i), batch.hyp_lengths[i], batch.ref_lengths[row],
                                match_table, columns ? columns + i : nullptr, batch.size);
  }
};

}  // namespace searnn
