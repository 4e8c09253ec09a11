// Element-wise and per-row math of one greedy decoder step, shared by the CPU loops and the
// CUDA kernels of greedy_rollout: the GRU gate update, additive attention, and the argmax with
// the end-of-sequence bookkeeping.
#pragma once

#include <math.h>

#include <cstdint>

#include "searnn_ext/macros.h"

namespace searnn {

SEARNN_HOST_DEVICE_INLINE float exponential(float x) { return expf(x); }
SEARNN_HOST_DEVICE_INLINE double exponential(double x) { return exp(x); }
SEARNN_HOST_DEVICE_INLINE float hyperbolic_tangent(float x) { return tanhf(x); }
SEARNN_HOST_DEVICE_INLINE double hyperbolic_tangent(double x) { return tanh(x); }

template <typename T>
SEARNN_HOST_DEVICE_INLINE T sigmoid(T x) {
  return T(1) / (T(1) + exponential(-x));
}

// Unit j of one row of a GRU step (gates r, z, n in torch.nn.GRUCell's order): the row's
// input_gates = W_ih x + b_ih and hidden_gates = W_hh h, both [3H], and hidden_bias = b_hh;
// hidden [H] is updated in place.
template <typename T>
SEARNN_HOST_DEVICE_INLINE void gru_update_unit(const T* input_gates, const T* hidden_gates,
                                               const T* hidden_bias, T* hidden, int64_t j,
                                               int64_t hidden_size) {
  const int64_t u = hidden_size + j, n = 2 * hidden_size + j;
  const T reset = sigmoid(input_gates[j] + (hidden_gates[j] + hidden_bias[j]));
  const T update = sigmoid(input_gates[u] + (hidden_gates[u] + hidden_bias[u]));
  const T candidate =
      hyperbolic_tangent(input_gates[n] + reset * (hidden_gates[n] + hidden_bias[n]));
  hidden[j] = (hidden[j] - candidate) * update + candidate;
}

// Bahdanau attention of one roll-out over its source sequence: score_s = v . tanh(k_s + q),
// softmax over the first `length` positions, context = sum_s weight_s * value_s.
// query [H], keys [S, H], values [S, D] of this row's sequence; scores: [S] scratch.
template <typename T>
SEARNN_HOST_DEVICE_INLINE void additive_attention_row(const T* query, const T* keys,
                                                      const T* values, int64_t length,
                                                      const T* score_weight, int64_t hidden_size,
                                                      int64_t value_size, T* scores,
                                                      T* context) {
  T best = 0;
  for (int64_t s = 0; s < length; ++s) {
    T energy = 0;
    for (int64_t h = 0; h < hidden_size; ++h) {
      energy += score_weight[h] * hyperbolic_tangent(keys[s * hidden_size + h] + query[h]);
    }
    scores[s] = energy;
    best = (s == 0 || energy > best) ? energy : best;
  }
  T total = 0;
  for (int64_t s = 0; s < length; ++s) {
    scores[s] = exponential(scores[s] - best);
    total += scores[s];
  }
  for (int64_t d = 0; d < value_size; ++d) {
    context[d] = 0;
  }
  for (int64_t s = 0; s < length; ++s) {
    const T weight = scores[s] / total;
    for (int64_t d = 0; d < value_size; ++d) {
      context[d] += weight * values[s * value_size + d];
    }
  }
}

// One roll-out's greedy choice at decode step `step`: the first maximal logit (as
// torch.argmax) becomes the next input; while the row is alive it is written to `tokens`,
// unless it is EOS, which ends the row. eos < 0: a fixed-length task, rows never end here.
template <typename T>
SEARNN_HOST_DEVICE_INLINE void greedy_pick_row(const T* logits, int64_t vocab, int64_t eos,
                                               int64_t step, bool* alive, int64_t* next_input,
                                               int64_t* tokens, int64_t* length) {
  int64_t best = 0;
  for (int64_t a = 1; a < vocab; ++a) {
    best = logits[a] > logits[best] ? a : best;
  }
  *next_input = best;
  if (!*alive) {
    return;
  }
  if (best == eos) {
    *alive = false;
    return;
  }
  tokens[step] = best;
  *length += 1;
}

}  // namespace searnn
