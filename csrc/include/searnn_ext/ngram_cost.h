// BLEU and GLEU costs of (hypothesis, reference) pairs: the per-pair logic shared by the CPU loop
// and the CUDA kernel (one thread per pair), as searnn_ext/ngram_costs.py defines them on the
// pure-PyTorch path. No scratch memory: each hypothesis position compares its n-grams with every
// reference position and every earlier hypothesis position, O(|h| (|h| + |r|)) token reads.
#pragma once

#include <math.h>

#include <cstdint>

#include "searnn_ext/macros.h"
#include "searnn_ext/pair_batch.h"

namespace searnn {

constexpr int64_t kMaxNgramOrder = 4;

// Per pair: m_n, the clipped matches of the n-grams, and the n-gram counts of both sequences.
struct NgramCounts {
  int64_t matches[kMaxNgramOrder];
  int64_t hyp_length, ref_length;

  SEARNN_HOST_DEVICE int64_t hyp_grams(int64_t n) const {
    return hyp_length >= n ? hyp_length - n + 1 : 0;
  }
  SEARNN_HOST_DEVICE int64_t ref_grams(int64_t n) const {
    return ref_length >= n ? ref_length - n + 1 : 0;
  }
};

// How many tokens a[0..] and b[0..] have in common from the start, at most `cap`.
template <typename Token>
SEARNN_HOST_DEVICE_INLINE int64_t common_run(const Token* a, int64_t a_length, const Token* b,
                                             int64_t b_length, int64_t cap) {
  int64_t run = 0;
  while (run < cap && run < a_length && run < b_length && a[run] == b[run]) {
    ++run;
  }
  return run;
}

// m_n = sum over distinct hypothesis n-grams g of min(count in hyp, count in ref): the k-th
// occurrence of g in the hypothesis is matched when the reference holds g at least k times.
template <typename Token>
SEARNN_HOST_DEVICE_INLINE NgramCounts ngram_counts(const Token* hyp, int64_t hyp_length,
                                                   const Token* ref, int64_t ref_length) {
  NgramCounts counts{{0, 0, 0, 0}, hyp_length, ref_length};
  for (int64_t i = 0; i < hyp_length; ++i) {
    const int64_t orders =
        hyp_length - i < kMaxNgramOrder ? hyp_length - i : kMaxNgramOrder;  // n-grams from i
    // Position i's own n-grams count once in its rank; other positions only where their first
    // token matches (the common case is a mismatch, tested without entering common_run).
    int64_t rank[kMaxNgramOrder] = {1, 1, 1, 1}, in_ref[kMaxNgramOrder] = {0, 0, 0, 0};
    const Token first = hyp[i];
    for (int64_t earlier = 0; earlier < i; ++earlier) {
      if (hyp[earlier] != first) {
        continue;
      }
      const int64_t run =
          common_run(hyp + earlier, hyp_length - earlier, hyp + i, hyp_length - i, orders);
      for (int64_t n = 0; n < run; ++n) {
        ++rank[n];
      }
    }
    for (int64_t j = 0; j < ref_length; ++j) {
      if (ref[j] != first) {
        continue;
      }
      const int64_t run = common_run(hyp + i, hyp_length - i, ref + j, ref_length - j, orders);
      for (int64_t n = 0; n < run; ++n) {
        ++in_ref[n];
      }
    }
    for (int64_t n = 0; n < orders; ++n) {
      counts.matches[n] += rank[n] <= in_ref[n];
    }
  }
  return counts;
}

// 1 - BLEU-4 with add-one smoothing of the 2- to 4-gram precisions (Lin and Och 2004) and the
// brevity penalty min(1, exp(1 - |r| / |h|)); BLEU = 0 for an empty hypothesis or m_1 = 0.
struct BleuCost {
  static constexpr const char* kName = "bleu_cost";  // the op's

  SEARNN_HOST_DEVICE static double of(const NgramCounts& c) {
    if (c.hyp_length == 0 || c.matches[0] == 0) {
      return 1.0;
    }
    double log_sum = log(double(c.matches[0]) / double(c.hyp_grams(1)));
    for (int64_t n = 2; n <= kMaxNgramOrder; ++n) {
      log_sum += log((double(c.matches[n - 1]) + 1.0) / (double(c.hyp_grams(n)) + 1.0));
    }
    const double shortfall = 1.0 - double(c.ref_length) / double(c.hyp_length);
    const double brevity = exp(shortfall < 0.0 ? shortfall : 0.0);
    return 1.0 - brevity * exp(log_sum / double(kMaxNgramOrder));
  }
};

// 1 - GLEU (Wu et al. 2016): min(matches / hypothesis n-grams, matches / reference n-grams),
// each summed over n = 1..4; GLEU = 0 when either sequence is empty.
struct GleuCost {
  static constexpr const char* kName = "gleu_cost";  // the op's

  SEARNN_HOST_DEVICE static double of(const NgramCounts& c) {
    int64_t matches = 0, hyp_grams = 0, ref_grams = 0;
    for (int64_t n = 1; n <= kMaxNgramOrder; ++n) {
      matches += c.matches[n - 1];
      hyp_grams += c.hyp_grams(n);
      ref_grams += c.ref_grams(n);
    }
    if (hyp_grams == 0 || ref_grams == 0) {
      return 1.0;
    }
    const double precision = double(matches) / double(hyp_grams);
    const double recall = double(matches) / double(ref_grams);
    return 1.0 - (precision < recall ? precision : recall);
  }
};

// The whole job of one CPU iteration: Cost (BleuCost or GleuCost) of pair i, as float32.
template <typename Cost, typename Token>
SEARNN_HOST_DEVICE_INLINE float ngram_cost_row(const PairBatch<Token>& batch, int64_t i) {
  const int64_t row = batch.ref_row(i);
  return float(Cost::of(ngram_counts(batch.hyp_tokens(i), batch.hyp_lengths[i],
                                     batch.ref_tokens(row), batch.ref_lengths[row])));
}

// One GPU thread per pair.
template <typename Cost, typename Token>
struct NgramCostThreads {
  PairBatch<Token> batch;
  float* out;

  SEARNN_HOST_DEVICE void operator()(int64_t i) const {
    if (i < batch.size) {
      out[i] = ngram_cost_row<Cost>(batch, i);
    }
  }
};

}  // namespace searnn
