// The GPU edit distance around its launches, written once over a Launcher (see
// gpu/hamming_distance.h): one thread per (reference, word) builds the match tables, then one
// thread per pair runs the bit-parallel distance.
#pragma once

#include <ATen/Dispatch.h>

#include <algorithm>

#include "../pair_inputs.h"
#include "launch_plan.h"
#include "searnn_ext/sorted_pattern_masks.h"

namespace searnn {

template <typename Launcher>
at::Tensor edit_distance_gpu(const PairInputs& inputs) {
  const int64_t pairs = inputs.size(), refs = inputs.ref.size(0), width = inputs.ref.size(1);
  const int64_t words = words_for_length(width), slots = std::min(kBitsPerWord, width);
  const auto long_options = inputs.hyp.options().dtype(at::kLong);
  at::Tensor out = Launcher::empty({pairs}, long_options);
  at::Tensor symbols = Launcher::empty({refs, words, slots}, long_options);
  at::Tensor masks = Launcher::empty({refs, words, slots}, long_options);  // uint64 bits
  at::Tensor counts = Launcher::empty({refs, words}, long_options);
  static_assert(sizeof(VerticalDeltas) == 2 * sizeof(int64_t), "scratch is allocated as int64");
  at::Tensor columns = Launcher::empty({words > 1 ? words * pairs * 2 : 0}, long_options);
  VerticalDeltas* columns_data =
      words > 1 ? reinterpret_cast<VerticalDeltas*>(columns.data_ptr<int64_t>()) : nullptr;
  AT_DISPATCH_INDEX_TYPES(inputs.hyp.scalar_type(), "edit_distance_gpu", [&] {
    const SortedMaskTables<index_t> tables{inputs.ref.const_data_ptr<index_t>(),
                                           inputs.ref.stride(0),
                                           inputs.ref_lengths.const_data_ptr<int64_t>(),
                                           refs,
                                           words,
                                           slots,
                                           symbols.data_ptr<int64_t>(),
                                           reinterpret_cast<uint64_t*>(masks.data_ptr<int64_t>()),
                                           counts.data_ptr<int64_t>()};
    Launcher::threads(plan_threads(refs * words), tables);
    Launcher::threads(plan_threads(pairs),
                      EditDistanceThreads<index_t>{inputs.batch<index_t>(), tables, columns_data,
                                                   out.data_ptr<int64_t>()});
  });
  return out;
}

}  // namespace searnn
