// torch.nn.GRUCell: gates r, z, n; the state is [h]. Its update is update.inc.
#pragma once

#include <cstdint>

namespace searnn {

struct GruCell {
  static constexpr const char* kName = "gru";
  static constexpr int64_t kGates = 3;
  static constexpr int64_t kStateVectors = 1;
};

}  // namespace searnn
