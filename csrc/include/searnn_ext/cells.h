// The recurrent cells of the decode loop, read by every executor of greedy_rollout (CUDA, emulated
// CUDA, the CPU's AVX-512, AVX2, portable and ATen kernels). A cell is a folder of cells/:
//   cell.h, its record: its name as the op's `cell` argument spells it, its gate count, and the
//     vectors of its state (side by side in one row: a GRU's [h], an LSTM's [h | c]; h, the
//     output, always first);
//   update.inc, its math, written once: update(Cell, lanes) updates a row's lanes (one unit per
//     CUDA thread, sixteen per AVX-512 instruction, eight per AVX2 one, a step's rows as ATen
//     tensors). Each executor includes cells/updates.inc inside its own namespace, with its own
//     Lanes<T> and SEARNN_CELL_UPDATE qualifiers (its target attributes), so that the vector
//     registers never cross a function compiled for another target.
// Registering a cell: its cell.h and its entry in Cells below, its update.inc in
// cells/updates.inc, and its record in searnn_ext/cells.py.
//
// A row reads input_gates = W_ih x + b_ih and hidden_gates = W_hh h, both [kGates * H], adds
// hidden_bias = b_hh to the hidden side, and updates its state [kStateVectors * H] in place.
// Lanes<T> give, as values of the executor's type: gate(g) = input + (hidden + bias) of gate g,
// input_gate(g), hidden_gate(g) = hidden + bias, state(v) (the state's vector v), store(v, x),
// sigmoid, tanh, fma(a, b, c) = a * b + c, mul and sub. Storage may be float16 or bfloat16; the
// math accumulates in float (double for double).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tuple>

#include "searnn_ext/cells/gru/cell.h"
#include "searnn_ext/cells/lstm/cell.h"
#include "searnn_ext/decoder_math.h"
#include "searnn_ext/macros.h"

namespace searnn {

using Cells = std::tuple<GruCell, LstmCell>;

// visit(Cell{}) for the cell at `index` in Cells (checked by the caller), for templates.
template <std::size_t I = 0, typename Visit>
auto visit_cell(int64_t index, const Visit& visit) {
  if constexpr (I + 1 < std::tuple_size_v<Cells>) {
    if (index != static_cast<int64_t>(I)) {
      return visit_cell<I + 1>(index, visit);
    }
  }
  return visit(std::tuple_element_t<I, Cells>{});
}

// The cells' names, in the order of Cells.
inline constexpr auto kCellNames = std::apply(
    [](auto... cell) { return std::array<std::string_view, sizeof...(cell)>{cell.kName...}; },
    Cells{});

// The index in Cells of the cell named `name`, or -1.
constexpr int64_t cell_index(std::string_view name) {
  for (std::size_t index = 0; index < kCellNames.size(); ++index) {
    if (kCellNames[index] == name) {
      return static_cast<int64_t>(index);
    }
  }
  return -1;
}

// One unit j of one row, in accumulate_t<T>: the lanes of a CUDA thread (and of the portable
// CPU kernels).
template <typename T>
struct Lanes {
  using Acc = accumulate_t<T>;
  const T* input_gates;
  const T* hidden_gates;
  const T* hidden_bias;
  T* row_state;
  int64_t unit;
  int64_t hidden_size;

  SEARNN_HOST_DEVICE Acc input_gate(int64_t g) const {
    return Acc(input_gates[g * hidden_size + unit]);
  }
  SEARNN_HOST_DEVICE Acc hidden_gate(int64_t g) const {
    const int64_t k = g * hidden_size + unit;
    return Acc(hidden_gates[k]) + Acc(hidden_bias[k]);
  }
  SEARNN_HOST_DEVICE Acc gate(int64_t g) const { return input_gate(g) + hidden_gate(g); }
  SEARNN_HOST_DEVICE Acc state(int64_t v) const { return Acc(row_state[v * hidden_size + unit]); }
  SEARNN_HOST_DEVICE void store(int64_t v, Acc x) const {
    row_state[v * hidden_size + unit] = T(x);
  }
  SEARNN_HOST_DEVICE static Acc sigmoid(Acc x) { return searnn::sigmoid(x); }
  SEARNN_HOST_DEVICE static Acc tanh(Acc x) { return hyperbolic_tangent(x); }
  SEARNN_HOST_DEVICE static Acc fma(Acc a, Acc b, Acc c) { return a * b + c; }
  SEARNN_HOST_DEVICE static Acc mul(Acc a, Acc b) { return a * b; }
  SEARNN_HOST_DEVICE static Acc sub(Acc a, Acc b) { return a - b; }
};

#define SEARNN_CELL_UPDATE SEARNN_HOST_DEVICE_INLINE
#include "searnn_ext/cells/updates.inc"
#undef SEARNN_CELL_UPDATE

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
    update(Cell{}, Lanes<T>{input_gates + (input_rows ? input_rows[row] : row) * gates_stride,
                            hidden_gates + (hidden_rows ? hidden_rows[row] : row) * gates_stride,
                            hidden_bias, state + row * Cell::kStateVectors * hidden_size,
                            unit % hidden_size, hidden_size});
  }
};

}  // namespace searnn
