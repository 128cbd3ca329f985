// Per-token work of a forward pass (norms, residual adds, RoPE, gates) split
// over the thread pool. Run on the calling thread alone, these loops left
// the other threads waiting through every layer of a prompt.
#pragma once

#include "base/thread_pool.h"

namespace nagi {

// fn(t0, t1) over the tokens [0, n), each token independent of the others:
// in chunks on the pool for a prompt, on the calling thread for fewer than
// eight tokens (decode, small verification batches), where a hand-off costs
// more than the work.
template <class F>
void for_tokens(int n, ThreadPool& pool, F&& fn) {
  if (n < 8) {
    fn(0, n);
  } else {
    pool.parallel_for(n, 4, fn);
  }
}

}  // namespace nagi
