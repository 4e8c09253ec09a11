// Qualifiers that let one function body serve the CPU loops and the CUDA kernels.
#pragma once

#if defined(__CUDACC__)
#define SEARNN_HOST_DEVICE __host__ __device__
#else
#define SEARNN_HOST_DEVICE
#endif

#define SEARNN_HOST_DEVICE_INLINE SEARNN_HOST_DEVICE inline
