// The per-row math of one greedy decoder step besides the cell's (searnn_ext/cells.h), written
// once for every executor of greedy_rollout: the CUDA kernels (a warp per row for the attention
// and the argmax), the emulated CUDA backend (the same launches, run on the CPU), and the CPU's
// portable path (a SerialWarp per row). Storage may be float16 or bfloat16; the math
// accumulates in float (double for double).
#pragma once

#include <math.h>

#include <cstdint>

#include "searnn_ext/macros.h"
#include "searnn_ext/warp.h"

namespace searnn {

template <typename T>
struct AccumulateType {
  using type = float;  // float, and the float16 / bfloat16 storage types
};
template <>
struct AccumulateType<double> {
  using type = double;
};
template <typename T>
using accumulate_t = typename AccumulateType<T>::type;

SEARNN_HOST_DEVICE_INLINE float exponential(float x) { return expf(x); }
SEARNN_HOST_DEVICE_INLINE double exponential(double x) { return exp(x); }
SEARNN_HOST_DEVICE_INLINE float hyperbolic_tangent(float x) { return tanhf(x); }
SEARNN_HOST_DEVICE_INLINE double hyperbolic_tangent(double x) { return tanh(x); }

template <typename Acc>
SEARNN_HOST_DEVICE_INLINE Acc sigmoid(Acc x) {
  return Acc(1) / (Acc(1) + exponential(-x));
}

// Bahdanau attention of each roll-out over the source memory of its sequence row_batch[r], one
// warp per row: score_s = v . tanh(k_s + q) over the first lengths[b] positions, softmax,
// context = sum_s weight_s * value_s. Lanes split the hidden units of each score (a key row is
// read coalesced) and then the context's units (so are the value rows).
template <typename T>
struct AdditiveAttention {
  using Acc = accumulate_t<T>;
  const T* query;            // [rows, H]
  const T* keys;             // [B, S, H]
  const T* values;           // [B, S, D]
  const int64_t* lengths;    // [B], each in [1, S]
  const int64_t* row_batch;  // [rows]
  const T* score_weight;     // [H]
  Acc* scores;               // [rows, S] scratch
  T* context;                // rows context_stride apart, [D] each
  int64_t context_stride;
  int64_t rows, source, hidden_size, value_size;

  template <typename Warp>
  SEARNN_HOST_DEVICE void operator()(const Warp& warp, int64_t r) const {
    if (r >= rows) {
      return;
    }
    const int64_t b = row_batch[r], length = lengths[b];
    const int stride = warp.size();
    const T* row_query = query + r * hidden_size;
    const T* row_keys = keys + b * source * hidden_size;
    const T* row_values = values + b * source * value_size;
    Acc* row_scores = scores + r * source;
    Acc best = 0;
    for (int64_t s = 0; s < length; ++s) {
      const T* key = row_keys + s * hidden_size;
      const auto partial = warp.lanes([&](int lane) {
        Acc energy = 0;
        for (int64_t h = lane; h < hidden_size; h += stride) {
          energy += Acc(score_weight[h]) * hyperbolic_tangent(Acc(key[h]) + Acc(row_query[h]));
        }
        return energy;
      });
      const Acc energy = warp.sum(partial);
      best = (s == 0 || energy > best) ? energy : best;
      // Lane s % size keeps position s: the lane that turns it into a weight below.
      warp.lanes([&](int lane) {
        if (s % stride == lane) {
          row_scores[s] = energy;
        }
      });
    }
    const auto partial_total = warp.lanes([&](int lane) {
      Acc total = 0;
      for (int64_t s = lane; s < length; s += stride) {
        row_scores[s] = exponential(row_scores[s] - best);
        total += row_scores[s];
      }
      return total;
    });
    const Acc total = warp.sum(partial_total);
    warp.sync();  // every lane reads every weight below
    T* row_context = context + r * context_stride;
    warp.lanes([&](int lane) {
      for (int64_t d = lane; d < value_size; d += stride) {
        Acc sum = 0;
        for (int64_t s = 0; s < length; ++s) {
          sum += row_scores[s] * Acc(row_values[s * value_size + d]);
        }
        row_context[d] = T(sum / total);
      }
    });
  }
};

// One roll-out's greedy choice at decode step `step`: `token` (the argmax) becomes the next
// input; while the row is alive it is written to `tokens`, unless it is EOS, which ends the row.
// eos < 0: a fixed-length task, rows never end here.
SEARNN_HOST_DEVICE_INLINE void record_pick(int64_t token, int64_t eos, int64_t step, bool* alive,
                                           int64_t* next_input, int64_t* tokens,
                                           int64_t* length) {
  *next_input = token;
  if (!*alive) {
    return;
  }
  if (token == eos) {
    *alive = false;
    return;
  }
  tokens[step] = token;
  *length += 1;
}

// The greedy choice of every roll-out, one warp per row: lanes scan strided logits, and their
// candidates meet in an all-reduce (torch.argmax's order, see first_of).
template <typename T>
struct GreedyPick {
  using Acc = accumulate_t<T>;
  const T* logits;  // [rows, vocab]
  int64_t rows, vocab, eos_id, step;
  bool* alive;           // [rows]
  int64_t* next_input;   // [rows]
  int64_t* tokens;       // [rows, width]
  int64_t width;
  int64_t* lengths;      // [rows]

  template <typename Warp>
  SEARNN_HOST_DEVICE void operator()(const Warp& warp, int64_t r) const {
    if (r >= rows) {
      return;
    }
    const T* row = logits + r * vocab;
    const int stride = warp.size();
    const auto partial = warp.lanes([&](int lane) {
      ArgMax<Acc> best{Acc(0), -1};
      for (int64_t a = lane; a < vocab; a += stride) {
        best = first_of(best, ArgMax<Acc>{Acc(row[a]), a});
      }
      return best;
    });
    const ArgMax<Acc> best = warp.best(partial);
    warp.lanes([&](int lane) {
      if (lane == 0) {
        record_pick(best.index, eos_id, step, alive + r, next_input + r, tokens + r * width,
                    lengths + r);
      }
    });
  }
};

}  // namespace searnn
