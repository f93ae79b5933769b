// A shared library that defines no models, for the `stepjit export` error tests.
extern "C" int stepjit_unrelated_function() { return 42; }
