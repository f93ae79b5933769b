#include "runtime/interpreter.h"
// Implemented in the interpreter task.
