#pragma once
// Names the calling thread, so that `top -H`, `ps -L`, perf and gdb tell reboundd's threads
// apart (smtp-io, ingest-writer, ingest-flush, ...). Linux keeps at most 15 characters.

#include <pthread.h>

namespace rebound::common {

inline void NameThisThread(const char* name) {
    pthread_setname_np(pthread_self(), name);
}

}  // namespace rebound::common
