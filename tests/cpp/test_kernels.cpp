// The shared per-pair kernels without Python: the CPU path (HashedMatchTable) and the GPU
// threads (the SortedMatchTables build and EditDistanceThreads / HammingDistanceThreads, swept
// over every index of a launch on the host) against a plain Wagner-Fischer DP, and the
// registered ops through the dispatcher. Likewise the two functors of
// optimal_completion_distance against the closed form on plain DP rows.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "searnn_ext/bit_parallel_edit_distance.h"
#include "searnn_ext/hamming_distance.h"
#include "searnn_ext/hashed_match_table.h"
#include "searnn_ext/optimal_completion_distance.h"
#include "searnn_ext/sorted_match_tables.h"

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

// The DP row of a + [x] against b from the row of a: row[j] = ED(a, b[:j]).
std::vector<int64_t> extend_row(const std::vector<int64_t>& previous, int64_t x,
                                const int64_t* b, int64_t m) {
  std::vector<int64_t> current(m + 1);
  current[0] = previous[0] + 1;
  for (int64_t j = 1; j <= m; ++j) {
    current[j] = std::min({previous[j] + 1, current[j - 1] + 1,
                           previous[j - 1] + (x != b[j - 1] ? 1 : 0)});
  }
  return current;
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

// SortedMatchTables of references [rows, width] in host vectors, built by sweeping every index of
// their launch and some past its end, as a launch does.
struct HostMatchTables {
  std::vector<int64_t> symbols, counts;
  std::vector<uint64_t> match_words;
  searnn::SortedMatchTables<int64_t> tables;

  HostMatchTables(const std::vector<int64_t>& ref, const std::vector<int64_t>& ref_lengths,
                  int64_t width) {
    const int64_t rows = static_cast<int64_t>(ref_lengths.size());
    const int64_t words = searnn::words_for_length(width), slots = std::min<int64_t>(64, width);
    symbols.assign(std::max<int64_t>(rows * words * slots, 1), -1);
    counts.assign(std::max<int64_t>(rows * words, 1), -1);
    match_words.assign(symbols.size(), 0);
    tables = {ref.data(),     width,              ref_lengths.data(), rows, words, slots,
              symbols.data(), match_words.data(), counts.data()};
    for (int64_t thread = 0; thread < rows * words + 7; ++thread) {
      tables(thread);
    }
  }
  HostMatchTables(const HostMatchTables&) = delete;  // `tables` points into this object
};

void test_shared_kernels(std::mt19937_64& rng) {
  for (int64_t width : {0, 1, 2, 63, 64, 65, 130, 200}) {
    for (int64_t vocab : {2, 43, 1000000}) {
      const Pairs pairs = random_pairs(rng, 24, width, vocab);
      const auto batch = pairs.batch();
      const int64_t words = searnn::words_for_length(width);
      searnn::HashedMatchTable hashed_table(width);
      std::vector<searnn::VerticalDeltas> columns(std::max<int64_t>(words, 1));
      // The GPU's buffers: match tables of every reference row, and scratch [words, count].
      HostMatchTables host_tables(pairs.ref, pairs.ref_lengths, width);
      const searnn::SortedMatchTables<int64_t>& sorted = host_tables.tables;
      std::vector<searnn::VerticalDeltas> launch_scratch(std::max<int64_t>(words * pairs.count, 1));
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
        hashed_table.assign(ref, m);
        expect(searnn::edit_distance_pair(hyp, n, m, hashed_table, columns.data(), 1) == want,
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

// An optimal_completion_distance problem: prefixes [batch, steps], candidates [batch, steps,
// width], references [batch, ref_width] with garbage past their lengths.
struct Completions {
  int64_t batch, steps, width, ref_width;
  std::optional<int64_t> eos_id;
  std::vector<int64_t> prefix, candidates, ref, ref_lengths;
};

Completions random_completions(std::mt19937_64& rng, int64_t ref_width, int64_t vocab,
                               int64_t id_offset, std::optional<int64_t> eos_id) {
  Completions problem{5, ref_width + 4, 3, ref_width, eos_id};
  std::uniform_int_distribution<int64_t> token(0, vocab - 1), length(0, ref_width);
  std::bernoulli_distribution copy(0.7);
  for (int64_t b = 0; b < problem.batch; ++b) {
    problem.ref_lengths.push_back(b == 0 ? ref_width : length(rng));
    for (int64_t i = 0; i < ref_width; ++i) {
      problem.ref.push_back(token(rng) + id_offset);
    }
    // Prefixes close to their reference, so that distances stay small as in SEARNN.
    for (int64_t t = 0; t < problem.steps; ++t) {
      const bool near = copy(rng) && t < ref_width;
      problem.prefix.push_back(near ? problem.ref[b * ref_width + t] : token(rng) + id_offset);
    }
  }
  for (int64_t i = 0; i < problem.batch * problem.steps * problem.width; ++i) {
    const bool end = eos_id && i % 7 == 0;
    problem.candidates.push_back(end ? *eos_id : token(rng) + id_offset);
  }
  return problem;
}

// The closed form on plain DP rows, one prefix row advanced per step: out [batch, steps, width].
std::vector<int64_t> plain_completions(const Completions& p) {
  std::vector<int64_t> out;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t* r = p.ref.data() + b * p.ref_width;
    const int64_t m = p.ref_lengths[b];
    std::vector<int64_t> row(m + 1);
    for (int64_t j = 0; j <= m; ++j) row[j] = j;
    for (int64_t t = 0; t < p.steps; ++t) {
      for (int64_t k = 0; k < p.width; ++k) {
        const int64_t a = p.candidates[(b * p.steps + t) * p.width + k];
        if (p.eos_id && a == *p.eos_id) {
          out.push_back(row[m]);
          continue;
        }
        const std::vector<int64_t> extended = extend_row(row, a, r, m);
        const int64_t remaining = std::max<int64_t>(m - t - 1, 0);
        int64_t best = std::numeric_limits<int64_t>::max();
        for (int64_t j = 0; j <= m; ++j) {
          const int64_t penalty = p.eos_id ? 0 : std::abs(remaining - (m - j));
          best = std::min(best, extended[j] + penalty);
        }
        out.push_back(best);
      }
      row = extend_row(row, p.prefix[b * p.steps + t], r, m);
    }
  }
  return out;
}

// Sweeps every index of a launch in 256-thread blocks, as the CUDA kernels are launched, so that
// the indices past the end (which must do nothing) are run too.
template <typename Functor>
void sweep_launch(const Functor& functor) {
  constexpr int64_t kBlock = 256;
  const int64_t launched = (functor.threads() + kBlock - 1) / kBlock * kBlock;
  for (int64_t thread = 0; thread < launched; ++thread) {
    functor(thread);
  }
}

void test_optimal_completion_functors(std::mt19937_64& rng) {
  constexpr int64_t kNegativeIds = -(int64_t{1} << 62);  // ids need not be small or positive
  for (int64_t ref_width : {0, 1, 2, 63, 64, 65, 130, 200}) {
    for (int64_t vocab : {2, 43, 1000000}) {
      for (int64_t id_offset : {int64_t{0}, kNegativeIds}) {
        for (std::optional<int64_t> eos_id : {std::optional<int64_t>(), std::optional(id_offset)}) {
          const Completions p = random_completions(rng, ref_width, vocab, id_offset, eos_id);
          const int64_t words = searnn::words_for_length(ref_width);
          std::vector<searnn::VerticalDeltas> columns(std::max<int64_t>(
              p.batch * p.steps * words, 1));
          std::vector<int64_t> distances(p.batch * p.steps), out(p.candidates.size(), -1);
          const HostMatchTables host_tables(p.ref, p.ref_lengths, p.ref_width);
          const searnn::CompletionBatch<int64_t> batch{
              p.prefix.data(), p.candidates.data(), p.ref_lengths.data(), p.batch, p.steps,
              p.width,         eos_id.has_value(),  eos_id.value_or(0),   host_tables.tables,
              columns.data(),  distances.data(),    out.data()};
          sweep_launch(searnn::PrefixColumns<int64_t>{batch});
          sweep_launch(searnn::CompletionCosts<int64_t>{batch});
          const std::string where = " ref width " + std::to_string(ref_width) + " vocab " +
                                    std::to_string(vocab) + " offset " +
                                    std::to_string(id_offset) + (eos_id ? " eos" : " fixed");
          expect(out == plain_completions(p), "optimal completion functors" + where);
        }
      }
    }
  }
}

void test_optimal_completion_op(std::mt19937_64& rng) {
  const Completions p = random_completions(rng, 70, 5, 0, 2);
  const auto as_tensor = [](const std::vector<int64_t>& values) {
    return at::tensor(at::ArrayRef<int64_t>(values), at::kLong);
  };
  const at::Tensor prefix = as_tensor(p.prefix).view({p.batch, p.steps});
  const at::Tensor candidates = as_tensor(p.candidates).view({p.batch, p.steps, p.width});
  const at::Tensor ref = as_tensor(p.ref).view({p.batch, p.ref_width});
  const at::Tensor ref_lengths = as_tensor(p.ref_lengths);
  const auto op = c10::Dispatcher::singleton()
                      .findSchemaOrThrow("searnn::optimal_completion_distance", "")
                      .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                        const at::Tensor&, std::optional<int64_t>)>();
  const at::Tensor out = op.call(prefix, candidates, ref, ref_lengths, p.eos_id).contiguous();
  const std::vector<int64_t> got(out.data_ptr<int64_t>(), out.data_ptr<int64_t>() + out.numel());
  expect(got == plain_completions(p), "searnn::optimal_completion_distance");
  bool named = false;
  try {
    op.call(prefix, candidates.select(2, 0), ref, ref_lengths, p.eos_id);
  } catch (const c10::Error& error) {
    named = std::string(error.what()).find("candidates must be 3-D") != std::string::npos;
  }
  expect(named, "optimal_completion_distance names candidates when it is not 3-D");
}

}  // namespace

int main() {
  std::mt19937_64 rng(0);
  test_shared_kernels(rng);
  test_registered_op(rng);
  test_optimal_completion_functors(rng);
  test_optimal_completion_op(rng);
  if (failures) {
    std::cerr << failures << " checks failed\n";
    return 1;
  }
  std::cout << "all kernel checks passed\n";
  return 0;
}
