// Invariant checks for nagi's own logic. Never use these for user input:
// outside input is validated at the edge and raised as nagi::Error.
#pragma once

#include <cstdio>
#include <cstdlib>

#define NAGI_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "%s:%d: NAGI_CHECK failed: %s\n", __FILE__,        \
                   __LINE__, #cond);                                          \
      std::abort();                                                           \
    }                                                                         \
  } while (0)

#ifndef NDEBUG
#define NAGI_DCHECK(cond) NAGI_CHECK(cond)
#else
#define NAGI_DCHECK(cond) \
  do {                    \
  } while (0)
#endif
