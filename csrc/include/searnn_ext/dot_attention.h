// Multi-head scaled dot-product attention of one roll-out row and head, written once for every
// executor of transformer_rollout: the CUDA kernels (a warp per row and head), the emulated CUDA
// backend and the CPU (a SerialWarp per row and head). Storage may be float16 or bfloat16; the
// math accumulates in float (double for double).
#pragma once

#include <cstdint>

#include "searnn_ext/decoder_math.h"
#include "searnn_ext/macros.h"
#include "searnn_ext/warp.h"

namespace searnn {

// Each row r attends over two runs of keys and values, read in place where they are stored:
//   shared: its sequence row_batch[r]'s, at shared_keys + row_batch[r] * shared_stride, its
//     first shared_lengths[r] positions (the roll-in's cached prefix, or the source memory);
//   own: its own, own_length positions from position own_starts[r] of own_keys (the tokens it
//     decoded itself; own_length 0 for cross-attention, which reads none).
// Positions are model_size apart in both; head h reads features [h * size, (h + 1) * size).
// So K roll-outs of one cell read its prefix once each, and no prefix is copied per row.
// Lanes split a head's features: the score of a position is a warp sum, and each lane then
// accumulates its own features of the output over the positions (rows of values read
// coalesced on the GPU, one vectorisable pass per position on the CPU).
template <typename T>
struct DotAttention {
  using Acc = accumulate_t<T>;
  const T* query;  // [rows, model_size]
  const T* shared_keys;
  const T* shared_values;
  int64_t shared_stride;
  const int64_t* row_batch;       // [rows]
  const int64_t* shared_lengths;  // [rows]
  const T* own_keys;
  const T* own_values;
  const int64_t* own_starts;  // [rows]
  int64_t own_length;
  Acc* scores;   // [rows * heads, score_stride] scratch, score_stride >= longest run total
  Acc* sums;     // [rows, model_size] scratch
  T* output;     // [rows, model_size]
  int64_t score_stride, rows, heads, model_size;

  template <typename Warp>
  SEARNN_HOST_DEVICE void operator()(const Warp& warp, int64_t item) const {
    if (item >= rows * heads) {
      return;
    }
    const int64_t r = item / heads, head = item % heads, size = model_size / heads;
    const int64_t shared_length = shared_lengths[r], length = shared_length + own_length;
    const int stride = warp.size();
    const int64_t offset = head * size;
    const T* row_query = query + r * model_size + offset;
    const T* shared_k = shared_keys + row_batch[r] * shared_stride + offset;
    const T* shared_v = shared_values + row_batch[r] * shared_stride + offset;
    const int64_t own_start = own_length > 0 ? own_starts[r] * model_size : 0;
    const T* own_k = own_keys + own_start + offset;
    const T* own_v = own_values + own_start + offset;
    const Acc scale = Acc(1) / sqrt(Acc(size));
    Acc* row_scores = scores + item * score_stride;
    Acc best = 0;
    for (int64_t s = 0; s < length; ++s) {
      const T* key = s < shared_length ? shared_k + s * model_size
                                       : own_k + (s - shared_length) * model_size;
      const Acc energy = warp.sum(warp.lanes([&](int lane) {
        return dot_product<Acc>(row_query, key, lane, stride, size);
      })) * scale;
      best = (s == 0 || energy > best) ? energy : best;
      // Lane s % stride keeps position s: the lane that turns it into a weight below.
      warp.lanes([&](int lane) {
        if (s % stride == lane) {
          row_scores[s] = energy;
        }
      });
    }
    const Acc total = warp.sum(warp.lanes([&](int lane) {
      Acc sum = 0;
      for (int64_t s = lane; s < length; s += stride) {
        row_scores[s] = exponential(row_scores[s] - best);
        sum += row_scores[s];
      }
      return sum;
    }));
    warp.sync();  // every lane reads every weight below
    Acc* row_sums = sums + r * model_size + offset;
    T* row_output = output + r * model_size + offset;
    warp.lanes([&](int lane) {
      for (int64_t d = lane; d < size; d += stride) {
        row_sums[d] = 0;
      }
      for (int64_t s = 0; s < length; ++s) {
        const T* value = s < shared_length ? shared_v + s * model_size
                                           : own_v + (s - shared_length) * model_size;
        const Acc weight = row_scores[s];
        for (int64_t d = lane; d < size; d += stride) {
          row_sums[d] += weight * Acc(value[d]);
        }
      }
      for (int64_t d = lane; d < size; d += stride) {
        row_output[d] = T(row_sums[d] / total);
      }
    });
  }

  // A lane's share of a . b over [0, size): features lane, lane + stride, ... Four running sums,
  // so that a lane holding every feature (the CPU's) runs them as independent vector lanes.
  template <typename A>
  SEARNN_HOST_DEVICE static A dot_product(const T* a, const T* b, int lane, int stride,
                                          int64_t size) {
    A sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
    int64_t d = lane;
    for (; d + 3 * stride < size; d += 4 * stride) {
      sum0 += A(a[d]) * A(b[d]);
      sum1 += A(a[d + stride]) * A(b[d + stride]);
      sum2 += A(a[d + 2 * stride]) * A(b[d + 2 * stride]);
      sum3 += A(a[d + 3 * stride]) * A(b[d + 3 * stride]);
    }
    for (; d < size; d += stride) {
      sum0 += A(a[d]) * A(b[d]);
    }
    return (sum0 + sum1) + (sum2 + sum3);
  }
};

}  // namespace searnn
