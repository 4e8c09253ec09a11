// The Python module searnn_ext._C: loading it registers the ops; it also reports how it was built.
// It includes only what it uses: torch/extension.h would make it the slowest file to compile.
#include <ATen/Parallel.h>
#include <c10/core/ScalarType.h>
#include <pybind11/pybind11.h>
#include <torch/version.h>

#include "cpu/cpu_gemm.h"
#include "cpu/decode_blocks.h"
#include "cpu/kernel_choice.h"
#include "searnn_ext/cells.h"

#ifndef SEARNN_CUDA_ARCHS
#define SEARNN_CUDA_ARCHS ""
#endif

namespace searnn {
void bind_cpu_gemm(pybind11::module_& m);  // cpu_gemm_binding.cpp
}  // namespace searnn

namespace {

pybind11::dict build_info() {
  pybind11::dict info;
#ifdef SEARNN_WITH_CUDA
  info["cuda_compiled"] = true;
#else
  info["cuda_compiled"] = false;
#endif
  info["cuda_archs"] = std::string(SEARNN_CUDA_ARCHS);
  info["compiled_torch_version"] = std::string(TORCH_VERSION);
  info["num_threads"] = at::get_num_threads();
  // Whether these kernels were compiled with OpenMP: without it at::parallel_for runs serially.
#ifdef _OPENMP
  info["openmp"] = true;
#else
  info["openmp"] = false;
#endif
  // The CPU roll-outs' element-wise kernels per dtype, as chosen on this CPU (kernel_choice.h).
  // And their GEMMs per dtype: "onednn" or "aten" (cpu/cpu_gemm.h).
  pybind11::dict kernels, gemms;
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kDouble}) {
    const std::string name(c10::getDtypeNames(dtype).first);
    kernels[name.c_str()] = searnn::kernels_name(searnn::decoder_kernels(dtype));
    gemms[name.c_str()] = searnn::cpu_gemm_name(dtype);
  }
  info["cpu_decoder_kernels"] = kernels;
  info["cpu_gemms"] = gemms;
  info["cpu_rows_per_block"] = searnn::kDecodeRowsPerBlock;
  // The recurrent cells greedy_rollout decodes (searnn_ext/cells.h), by name.
  pybind11::list cells;
  for (const std::string_view name : searnn::kCellNames) {
    cells.append(std::string(name));
  }
  info["compiled_cells"] = cells;
  return info;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("build_info", &build_info, "How this extension was compiled, and its CPU threads.");
  searnn::bind_cpu_gemm(m);
}
