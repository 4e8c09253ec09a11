// Argument checks shared by the ops' boundaries: each raises TypeError (dtype) or ValueError
// (rank, sizes, ranges, devices) with a message naming the argument as Python users see it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace searnn {

// An int32 or int64 tensor of rank `dim`.
void check_index_tensor(const char* op, const char* name, const at::Tensor& t, int64_t dim);

// `t` on the same device as `first`, the argument named `first_name`.
void check_same_device(const char* op, const char* name, const at::Tensor& t,
                       const char* first_name, const at::Tensor& first);

// Values in [low, high]; `bound` says where high comes from. One reduction, so one device
// synchronisation on the GPU.
void check_range(const char* op, const char* name, const at::Tensor& t, int64_t low,
                 int64_t high, const char* bound);

}  // namespace searnn
