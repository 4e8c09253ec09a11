// The recurrent cells of the decode loop, one record each, read by every executor of
// greedy_rollout (CUDA, emulated CUDA, the CPU): its gate count, the vectors of its state (side
// by side in one row: a GRU's [h], an LSTM's [h | c]; h, the output, always first) and the math
// of one unit j of one row, in torch's gate order. A row reads input_gates = W_ih x + b_ih and
// hidden_gates = W_hh h, both [kGates * H], adds hidden_bias = b_hh to the hidden side, and
// updates its state [kStateVectors * H] in place. Storage may be float16 or bfloat16; the math
// accumulates in float (double for double).
#pragma once

#include <cstdint>

#include "searnn_ext/decoder_math.h"
#include "searnn_ext/macros.h"

namespace searnn {

// torch.nn.GRUCell: gates r, z, n.
struct GruCell {
  static constexpr int64_t kGates = 3;
  static constexpr int64_t kStateVectors = 1;

  template <typename T>
  SEARNN_HOST_DEVICE static void update_unit(const T* input_gates, const T* hidden_gates,
                                             const T* hidden_bias, T* state, int64_t j,
                                             int64_t hidden_size) {
    using Acc = accumulate_t<T>;
    const int64_t u = hidden_size + j, n = 2 * hidden_size + j;
    const Acc reset =
        sigmoid(Acc(input_gates[j]) + (Acc(hidden_gates[j]) + Acc(hidden_bias[j])));
    const Acc update =
        sigmoid(Acc(input_gates[u]) + (Acc(hidden_gates[u]) + Acc(hidden_bias[u])));
    const Acc candidate = hyperbolic_tangent(
        Acc(input_gates[n]) + reset * (Acc(hidden_gates[n]) + Acc(hidden_bias[n])));
    // (1 - z) * n + z * h, in torch's gru_cell form.
    state[j] = T((Acc(state[j]) - candidate) * update + candidate);
  }
};

// torch.nn.LSTMCell: gates i, f, g, o; the state is [h | c].
struct LstmCell {
  static constexpr int64_t kGates = 4;
  static constexpr int64_t kStateVectors = 2;

  template <typename T>
  SEARNN_HOST_DEVICE static void update_unit(const T* input_gates, const T* hidden_gates,
                                             const T* hidden_bias, T* state, int64_t j,
                                             int64_t hidden_size) {
    using Acc = accumulate_t<T>;
    const auto gate = [&](int64_t g) {
      const int64_t k = g * hidden_size + j;
      return Acc(input_gates[k]) + (Acc(hidden_gates[k]) + Acc(hidden_bias[k]));
    };
    const Acc input = sigmoid(gate(0)), forget = sigmoid(gate(1));
    const Acc candidate = hyperbolic_tangent(gate(2)), output = sigmoid(gate(3));
    const Acc cell = forget * Acc(state[hidden_size + j]) + input * candidate;
    state[hidden_size + j] = T(cell);
    state[j] = T(output * hyperbolic_tangent(cell));
  }
};

// A step of `rows` rows of a cell, one thread per hidden unit. Row r reads its gate rows
// input_gates[input_rows ? input_rows[r] : r] and likewise hidden_gates (see GateRows).
template <typename Cell, typename T>
struct CellUpdate {
  const T* input_gates;
  const int64_t* input_rows;
  const T* hidden_gates;
  const int64_t* hidden_rows;
  const T* hidden_bias;
  T* state;       // [rows, kStateVectors * H]
  int64_t units;  // rows * H
  int64_t hidden_size;

  SEARNN_HOST_DEVICE void operator()(int64_t unit) const {
    if (unit >= units) {
      return;
    }
    const int64_t row = unit / hidden_size, gates_stride = Cell::kGates * hidden_size;
    Cell::update_unit(input_gates + (input_rows ? input_rows[row] : row) * gates_stride,
                      hidden_gates + (hidden_rows ? hidden_rows[row] : row) * gates_stride,
                      hidden_bias, state + row * Cell::kStateVectors * hidden_size,
                      unit % hidden_size, hidden_size);
  }
};

}  // namespace searnn
