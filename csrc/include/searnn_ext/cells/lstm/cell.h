// torch.nn.LSTMCell: gates i, f, g, o; the state is [h | c]. Its update is update.inc.
#pragma once

#include <cstdint>

namespace searnn {

struct LstmCell {
  static constexpr const char* kName = "lstm";
  static constexpr int64_t kGates = 4;
  static constexpr int64_t kStateVectors = 2;
};

}  // namespace searnn
