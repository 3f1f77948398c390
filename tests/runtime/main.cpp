// The doctest entry point of the runtime test binary; ctest selects suites with --test-suite.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
