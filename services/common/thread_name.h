#pragma once
// Names a thread, so that `top -H`, `ps -L`, perf and gdb tell reboundd's threads apart
// (smtp-io, ingest-writer, ingest-flush, ...). Called by the thread's creator right after
// creating it, so the name is there once the component's Start() has returned. Linux keeps
// at most 15 characters.

#include <pthread.h>

#include <thread>

namespace rebound::common {

inline void NameThread(std::thread& thread, const char* name) {
    pthread_setname_np(thread.native_handle(), name);
}

}  // namespace rebound::common
