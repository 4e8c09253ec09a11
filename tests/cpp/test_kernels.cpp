// The shared per-pair kernels without Python: the CPU path (PatternMaskTable) and the GPU
// threads (the SortedMaskTables build and EditDistanceThreads / HammingDistanceThreads, swept
// over every index of a launch on the host) against a plain Wagner-Fischer DP, and the
// registered ops through the dispatcher.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "searnn_ext/bit_parallel_edit_distance.h"
#include "searnn_ext/hamming_distance.h"
#include "searnn_ext/pattern_mask_table.h"
#include "searnn_ext/sorted_pattern_masks.h"

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::cerr << "FAILED: " << what << "\n";
  }
}

int64_t levenshtein(const int64_t* a, int64_t n, const int64_t* b, int64_t m) {
  std::vector<int64_t> previous(m + 1), current(m + 1);
  for (int64_t j = 0; j <= m; ++j) previous[j] = j;
  for (int64_t i = 1; i <= n; ++i) {
    current[0] = i;
    for (int64_t j = 1; j <= m; ++j) {
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (a[i - 1] != b[j - 1] ? 1 : 0)});
    }
    std::swap(previous, current);
  }
  return previous[m];
}

int64_t plain_hamming(const int64_t* a, int64_t n, const int64_t* b, int64_t m) {
  int64_t distance = std::max(n, m) - std::min(n, m);
  for (int64_t i = 0; i < std::min(n, m); ++i) distance += a[i] != b[i];
  return distance;
}

// A padded batch: `count` pairs of width `width`, random lengths, garbage past each length.
struct Pairs {
  int64_t count, width;
  std::vector<int64_t> hyp, ref, hyp_lengths, ref_lengths, ref_index;

  searnn::PairBatch<int64_t> batch() const {
    return {hyp.data(), width, hyp_lengths.data(), ref.data(), width, ref_lengths.data(),
            ref_index.data(), count};
  }
};

Pairs random_pairs(std::mt19937_64& rng, int64_t count, int64_t width, int64_t vocab) {
  Pairs pairs{count, width};
  std::uniform_int_distribution<int64_t> token(0, vocab - 1), length(0, width),
      row(0, count - 1);
  for (int64_t i = 0; i < count * width; ++i) {
    pairs.hyp.push_back(token(rng));
    pairs.ref.push_back(token(rng));
  }
  for (int64_t i = 0; i < count; ++i) {
    pairs.hyp_lengths.push_back(length(rng));
    pairs.ref_lengths.push_back(i % 3 == 0 ? width : length(rng));
    pairs.ref_index.push_back(i % 2 == 0 ? row(rng) : i);  // shared and own references
  }
  return pairs;
}

void test_shared_kernels(std::mt19937_64& rng) {
  for (int64_t width : {0, 1, 2, 63, 64, 65, 130, 200}) {
    for (int64_t vocab : {2, 43, 1000000}) {
      const Pairs pairs = random_pairs(rng, 24, width, vocab);
      const auto batch = pairs.batch();
      const int64_t words = searnn::words_for_length(width);
      searnn::PatternMaskTable table(width);
      std::vector<searnn::VerticalDeltas> columns(std::max<int64_t>(words, 1));
      // The GPU's buffers: match tables of every reference row, and scratch [words, count].
      const int64_t slots = std::min<int64_t>(64, width), tables = pairs.count * words;
      std::vector<int64_t> symbols(std::max<int64_t>(tables * slots, 1), -1),
          counts(std::max<int64_t>(tables, 1), -1);
      std::vector<uint64_t> masks(symbols.size());
      std::vector<searnn::VerticalDeltas> launch_scratch(std::max<int64_t>(words * pairs.count, 1));
      const searnn::SortedMaskTables<int64_t> sorted{
          pairs.ref.data(), width,  pairs.ref_lengths.data(), pairs.count, words,
          slots,            symbols.data(), masks.data(),      counts.data()};
      for (int64_t thread = 0; thread < tables + 7; ++thread) {  // past the end, as a launch
        sorted(thread);
      }
      std::vector<int64_t> edit(pairs.count + 7, -1), hamming(pairs.count + 7, -1);
      const searnn::EditDistanceThreads<int64_t> edit_threads{
          batch, sorted, words > 1 ? launch_scratch.data() : nullptr, edit.data()};
      const searnn::HammingDistanceThreads<int64_t> hamming_threads{batch, hamming.data()};
      for (int64_t thread = 0; thread < pairs.count + 7; ++thread) {
        edit_threads(thread);
        hamming_threads(thread);
      }
      for (int64_t i = 0; i < pairs.count; ++i) {
        const int64_t row = batch.ref_row(i);
        const int64_t* hyp = batch.hyp_tokens(i);
        const int64_t* ref = batch.ref_tokens(row);
        const int64_t n = batch.hyp_lengths[i], m = batch.ref_lengths[row];
        const int64_t want = levenshtein(hyp, n, ref, m);
        const std::string where = " width " + std::to_string(width) + " vocab " +
                                  std::to_string(vocab) + " pair " + std::to_string(i);
        table.assign(ref, m);
        expect(searnn::edit_distance_pair(hyp, n, m, table, columns.data(), 1) == want,
               "CPU edit distance" + where);
        expect(edit[i] == want, "GPU threads edit distance" + where);
        expect(searnn::hamming_distance_row(batch, i) == plain_hamming(hyp, n, ref, m),
               "CPU hamming distance" + where);
        expect(hamming[i] == plain_hamming(hyp, n, ref, m), "GPU threads hamming" + where);
      }
      expect(edit[pairs.count] == -1 && hamming[pairs.count] == -1,
             "threads past the batch write nothing");
    }
  }
}

void test_registered_op(std::mt19937_64& rng) {
  const Pairs pairs = random_pairs(rng, 300, 70, 5);
  const auto as_tensor = [](const std::vector<int64_t>& values) {
    return at::tensor(at::ArrayRef<int64_t>(values), at::kLong);
  };
  const at::Tensor hyp = as_tensor(pairs.hyp).view({pairs.count, pairs.width});
  const at::Tensor ref = as_tensor(pairs.ref).view({pairs.count, pairs.width});
  const at::Tensor hyp_lengths = as_tensor(pairs.hyp_lengths);
  const at::Tensor ref_lengths = as_tensor(pairs.ref_lengths);
  const at::Tensor ref_index = as_tensor(pairs.ref_index);
  for (const char* name : {"searnn::edit_distance", "searnn::hamming_distance"}) {
    const auto op = c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<at::Tensor(
        const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
        const std::optional<at::Tensor>&)>();
    const at::Tensor out = op.call(hyp, hyp_lengths, ref, ref_lengths, ref_index);
    const bool edit = std::string(name) == "searnn::edit_distance";
    const auto batch = pairs.batch();
    for (int64_t i = 0; i < pairs.count; ++i) {
      const int64_t row = batch.ref_row(i);
      const auto oracle = edit ? levenshtein : plain_hamming;
      const int64_t want = oracle(batch.hyp_tokens(i), batch.hyp_lengths[i],
                                  batch.ref_tokens(row), batch.ref_lengths[row]);
      expect(out[i].item<int64_t>() == want, std::string(name) + " pair " + std::to_string(i));
    }
    bool named = false;
    try {
      op.call(hyp, hyp_lengths.neg(), ref, ref_lengths, ref_index);
    } catch (const c10::Error& error) {
      named = std::string(error.what()).find("hyp_lengths values must lie in") !=
              std::string::npos;
    }
    expect(named, std::string(name) + " names hyp_lengths when a length is negative");
  }
}

}  // namespace

int main() {
  std::mt19937_64 rng(0);
  test_shared_kernels(rng);
  test_registered_op(rng);
  if (failures) {
    std::cerr << failures << " checks failed\n";
    return 1;
  }
  std::cout << "all kernel checks passed\n";
  return 0;
}
