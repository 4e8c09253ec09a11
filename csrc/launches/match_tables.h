// The SortedMatchTables of the references on a Launcher's device: allocated, then filled by one
// launch of one thread per (reference row, word). Shared by the edit distance and the optimal
// completion distance.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>

#include "launch_plan.h"
#include "searnn_ext/sorted_match_tables.h"

namespace searnn {

// The tensors the tables live in; they must outlive every SortedMatchTables built on them.
struct MatchTableBuffers {
  int64_t rows, words, slots;
  at::Tensor symbols;      // [rows, words, slots]
  at::Tensor match_words;  // [rows, words, slots]: uint64 match words stored as int64
  at::Tensor counts;       // [rows, words]

  // Tables for the rows of `ref` [rows, width] (contiguous), each word's table filled whole.
  template <typename Launcher>
  static MatchTableBuffers allocate(const at::Tensor& ref) {
    const int64_t rows = ref.size(0), width = ref.size(1);
    const int64_t words = words_for_length(width), slots = std::min(kBitsPerWord, width);
    const auto long_options = ref.options().dtype(at::kLong);
    return MatchTableBuffers{rows, words, slots,
                             Launcher::empty({rows, words, slots}, long_options),
                             Launcher::empty({rows, words, slots}, long_options),
                             Launcher::empty({rows, words}, long_options)};
  }

  // Launches the build of the tables of `ref` with lengths `ref_lengths` (int64), and returns
  // them for the launches that read them, on the same stream.
  template <typename Launcher, typename Token>
  SortedMatchTables<Token> build(const at::Tensor& ref, const at::Tensor& ref_lengths) const {
    const SortedMatchTables<Token> tables{
        ref.const_data_ptr<Token>(),
        ref.stride(0),
        ref_lengths.const_data_ptr<int64_t>(),
        rows,
        words,
        slots,
        symbols.data_ptr<int64_t>(),
        reinterpret_cast<uint64_t*>(match_words.data_ptr<int64_t>()),
        counts.data_ptr<int64_t>()};
    Launcher::threads(plan_threads(rows * words), tables);
    return tables;
  }
};

}  // namespace searnn
