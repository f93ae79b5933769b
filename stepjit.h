// stepjit: the one header of the installed package (find_package(stepjit), stepjit::stepjit).
#pragma once

#include "frontend/gradients.h"
#include "frontend/layers.h"
#include "frontend/losses.h"
#include "frontend/optimizers.h"
#include "graph/builder.h"
#include "graph/initializers.h"
#include "graph/parse.h"
#include "graph/print.h"
#include "runtime/batcher.h"
#include "runtime/checkpoint.h"
#include "runtime/compiled_step.h"
#include "runtime/csv.h"
#include "runtime/interpreter.h"
#include "runtime/npy.h"
#include "runtime/tensor_view.h"
#include "runtime/training.h"
