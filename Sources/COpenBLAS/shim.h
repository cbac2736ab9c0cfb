// The C surface BertBLAS uses: OpenBLAS's CBLAS (sgemm, thread and core queries) and LAPACKE (solvers).
#ifndef BERTBLAS_COPENBLAS_SHIM_H
#define BERTBLAS_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
